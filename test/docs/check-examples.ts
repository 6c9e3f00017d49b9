/**
 * `pnpm check:examples [package …]`: type-checks the TSDoc `@example` blocks (all published packages, or
 * the ones named) and prints each error with the `file:line` of its `@example` tag. Exits 1 on any error.
 */
import { fileURLToPath } from 'node:url';
import { checkDocExamples } from './doc-examples';
import { DOCUMENTED_PACKAGES } from './packages';

const root = fileURLToPath(new URL('../../', import.meta.url));
const wanted = process.argv.slice(2).filter((a) => a !== '--');
const packages = wanted.length > 0 ? wanted : DOCUMENTED_PACKAGES;
const { count, errors } = checkDocExamples(root, packages);
for (const e of errors) console.log(`${e.where}: ${e.message.split('\n')[0]}\n    ${e.source}`);
const places = new Set(errors.map((e) => e.where)).size;
console.log(`${count} examples checked, ${places} with errors (${errors.length} errors)`);
process.exitCode = errors.length > 0 ? 1 : 0;
