// Makes the installed parser loadable by Debian's node: its dist/ imports two JSON schemas without an import
// attribute, written for bundlers; node's own ESM loader refuses a JSON module unless the import says
// `with { type: "json" }` (ERR_IMPORT_ASSERTION_TYPE_MISSING). Run after every `npm ci` (the Makefile does);
// idempotent: an import that already carries the attribute is left alone.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "node_modules", "@actions", "workflow-parser", "dist");
// `import Name from "./x.json";` and nothing else on the line: anything longer is not the form this fixes.
const bare = /^(import \w+ from "[^"]+\.json");$/gm;
const attributed = /^import \w+ from "[^"]+\.json" with \{ type: "json" \};$/gm;

let patched = 0;
let found = 0;
for (const entry of readdirSync(dist, { recursive: true })) {
  if (!entry.endsWith(".js")) continue;
  const path = join(dist, entry);
  const text = readFileSync(path, "utf8");
  const fixed = text.replace(bare, (_, statement) => {
    patched += 1;
    return `${statement} with { type: "json" };`;
  });
  found += (fixed.match(attributed) || []).length;
  if (fixed !== text) writeFileSync(path, fixed);
}
if (found === 0) {
  // The package no longer imports JSON this way: the patch is stale, and so may be the reason for it.
  console.error(`patch-json-imports: no JSON import found under ${dist}`);
  process.exit(1);
}
console.log(`patch-json-imports: ${found} JSON imports carry the attribute (${patched} patched now)`);
