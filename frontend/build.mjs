// Builds the vendored front-end files that the Flask portal serves.
// Run from the repo root: `npm ci && npm run build`.
// Outputs are committed, so running the portal needs no Node/npm.
import { cpSync, mkdirSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as sass from "sass";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const nm = join(root, "node_modules");
const govukDist = join(nm, "govuk-frontend", "dist", "govuk");
const govukOut = join(root, "portal", "static", "vendor", "govuk-frontend-5.14.0");

function copy(src, dest) {
  mkdirSync(dirname(dest), { recursive: true });
  copyFileSync(src, dest);
  console.log(`copied  ${src.slice(root.length + 1)} -> ${dest.slice(root.length + 1)}`);
}

// Start the GOV.UK Frontend folder afresh so no stale files linger.
rmSync(govukOut, { recursive: true, force: true });
mkdirSync(govukOut, { recursive: true });

// 1. CSS (Arial, no GDS Transport font faces, no source map).
const result = sass.compile(join(root, "frontend", "govuk.scss"), {
  loadPaths: [nm],
  style: "compressed",
  sourceMap: false,
  quietDeps: true, // GOV.UK Frontend 5 uses @import internally
});
const cssOut = join(govukOut, "govuk-frontend.min.css");
writeFileSync(cssOut, result.css + "\n");
console.log(`compiled frontend/govuk.scss -> ${cssOut.slice(root.length + 1)}`);

// 2. GOV.UK Frontend JS (an ES module: load with <script type="module">).
copy(join(govukDist, "govuk-frontend.min.js"), join(govukOut, "govuk-frontend.min.js"));

// 3. GOV.UK Frontend assets: images + manifest.json. Fonts (GDS Transport)
//    and the rebrand assets are deliberately not copied.
cpSync(join(govukDist, "assets", "images"), join(govukOut, "assets", "images"), { recursive: true });
console.log(`copied  govuk-frontend assets/images -> ${join(govukOut, "assets", "images").slice(root.length + 1)}`);
copy(join(govukDist, "assets", "manifest.json"), join(govukOut, "assets", "manifest.json"));

// 4. htmx.
copy(join(nm, "htmx.org", "dist", "htmx.min.js"), join(root, "portal", "static", "vendor", "htmx-2.0.11.min.js"));

// 5. axe-core, for the browser tests.
copy(join(nm, "axe-core", "axe.min.js"), join(root, "tests", "e2e", "vendor", "axe-core-4.14.1.min.js"));
