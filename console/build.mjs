// Builds the console and the GraphiQL page into dist/, which is committed and
// embedded in the server binary: `cargo build` needs no Node. Deterministic:
// the same sources and lockfile give the same bytes (CI checks that).
//
// dist/console.html and dist/graphiql.html name their scripts and styles by
// content hash, so the server can let browsers cache assets for good.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, "dist");
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: { console: "src/console/main.tsx", graphiql: "src/graphiql/main.ts" },
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022"],
  outdir: join(dist, "assets"),
  entryNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "linked",
  define: { "process.env.NODE_ENV": '"production"' },
  loader: { ".woff": "file", ".woff2": "file", ".svg": "file" },
  metafile: true,
  logLevel: "warning",
});

// The output files of each entry point, as paths under /console/.
const outputs = {};
for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  if (!meta.entryPoint) continue;
  const name = basename(meta.entryPoint).startsWith("main") ? basename(dirname(meta.entryPoint)) : meta.entryPoint;
  outputs[name] = { js: "/console/assets/" + basename(file), css: meta.cssBundle && "/console/assets/" + basename(meta.cssBundle) };
}

// The icon, copied under its content hash (browsers ask for one on every page).
const icon = readFileSync(join(root, "src", "icon.svg"));
const iconName = `icon-${createHash("sha256").update(icon).digest("hex").slice(0, 8)}.svg`;
writeFileSync(join(dist, "assets", iconName), icon);

for (const page of ["console", "graphiql"]) {
  const template = readFileSync(join(root, "src", page, "index.html"), "utf8");
  const { js, css } = outputs[page];
  const html = template.replace("%SCRIPT%", js).replace("%STYLE%", css).replace("%ICON%", "/console/assets/" + iconName);
  writeFileSync(join(dist, `${page}.html`), html);
}
