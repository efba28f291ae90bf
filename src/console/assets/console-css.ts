// The console's one stylesheet, served as /console/assets/console.css. Kept in a TypeScript module (not a
// .css file) because the build (pkgroll) bundles only what is imported: this way it ships in dist/ and in the
// package with the code that serves it. No inline style anywhere: the CSP allows only this file.
export const consoleCss = String.raw`
:root {
  color-scheme: light dark;
  --bg: #ffffff; --fg: #1b1f24; --muted: #59636e; --line: #d5dbe1; --panel: #f4f6f8; --link: #0b57d0; --focus: #d0006f;
  --d: #1e6b2a; --d-bg: #cfead3; --r: #0f4c9c; --r-bg: #d3e3fa; --l: #7a3f00; --l-bg: #ffd79a;
  --f: #a4161a; --f-bg: #f9c9c6; --m: #4d4d4d; --m-bg: #dcdcdc; --w: #6b7280; --w-bg: #f1f3f5; --x: #5b4a86; --x-bg: #e6e0f5;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #101316; --fg: #e2e6ea; --muted: #9aa5b1; --line: #2c333a; --panel: #181c21; --link: #8ab4f8; --focus: #ff7ab8;
    --d: #9ee2a8; --d-bg: #1d4726; --r: #a9c8ff; --r-bg: #1c3559; --l: #ffcf85; --l-bg: #5a3a08;
    --f: #ffb3ae; --f-bg: #6b1d1b; --m: #c8c8c8; --m-bg: #3a3a3a; --w: #8b949e; --w-bg: #1b1f24; --x: #cdbfff; --x-bg: #3a3257;
  }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
a { color: var(--link); }
a:focus-visible, button:focus-visible, input:focus-visible, summary:focus-visible { outline: 2px solid var(--focus); outline-offset: 1px; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 8px; top: 8px; background: var(--bg); padding: 4px 8px; z-index: 10; }
header.top { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 18px; padding: 6px 14px; border-bottom: 1px solid var(--line); background: var(--panel); }
header.top .brand { font-weight: 700; color: var(--fg); text-decoration: none; }
header.top nav a { margin-right: 12px; text-decoration: none; }
header.top nav a[aria-current="page"] { font-weight: 700; text-decoration: underline; }
header.top .who { margin-left: auto; color: var(--muted); display: flex; gap: 10px; align-items: center; }
header.top form { display: inline; margin: 0; }
main { padding: 10px 14px 40px; }
h1 { font-size: 1.3em; margin: 4px 0 10px; }
h2 { font-size: 1.1em; margin: 22px 0 8px; }
.muted { color: var(--muted); }
.note { padding: 8px 12px; border-left: 4px solid var(--r); background: var(--panel); margin: 10px 0; }
.note.bad { border-color: var(--f); }
.note.warn { border-color: var(--l); }
.note.good { border-color: var(--d); }
button, .button { font: inherit; padding: 4px 12px; border: 1px solid var(--line); border-radius: 4px; background: var(--panel); color: var(--fg); cursor: pointer; text-decoration: none; display: inline-block; }
button.danger, .button.danger { border-color: var(--f); color: var(--f); }
button.primary { border-color: var(--link); color: var(--link); font-weight: 600; }
header.top button { padding: 1px 8px; }
input[type="password"], input[type="text"] { font: inherit; padding: 5px 8px; width: min(34em, 100%); border: 1px solid var(--line); border-radius: 4px; background: var(--bg); color: var(--fg); }
label { display: block; margin: 8px 0 4px; font-weight: 600; }
table.data { border-collapse: collapse; margin: 6px 0 12px; }
table.data th, table.data td { border-bottom: 1px solid var(--line); padding: 3px 10px 3px 0; text-align: left; vertical-align: top; }
table.data td.num, table.data th.num { text-align: right; font-variant-numeric: tabular-nums; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 6px 0 12px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 0.92em; }
pre.log { background: var(--panel); border: 1px solid var(--line); padding: 8px; overflow-x: auto; max-height: 30em; white-space: pre-wrap; word-break: break-all; }
.error, .warning, .message { white-space: pre-wrap; word-break: break-word; }
.error { color: var(--f); }
.warning { color: var(--l); }
ul.changes { margin: 4px 0 12px; padding-left: 1.2em; }
ul.changes li { margin: 2px 0; }
.badge { display: inline-block; padding: 0 6px; border-radius: 3px; font-weight: 600; }
.s-d { background: var(--d-bg); color: var(--d); } .s-r { background: var(--r-bg); color: var(--r); } .s-l { background: var(--l-bg); color: var(--l); }
.s-f { background: var(--f-bg); color: var(--f); } .s-m { background: var(--m-bg); color: var(--m); } .s-w { background: var(--w-bg); color: var(--w); }
.s-x { background: var(--x-bg); color: var(--x); }

/* The grid: GEOs down, hours across. Cells are one glyph wide so 50 GEOs × 48 hours fit a laptop screen. */
.gridhead { display: flex; flex-wrap: wrap; gap: 4px 18px; align-items: baseline; }
.gridhead h1 { margin: 0; }
.gridwrap { overflow: auto; max-height: calc(100vh - 105px); border: 1px solid var(--line); width: max-content; max-width: 100%; }
table.grid { border-collapse: separate; border-spacing: 1px; font: 10px/1 ui-monospace, Menlo, Consolas, monospace; }
table.grid caption { text-align: left; padding: 4px; font: 12px/1.3 system-ui, sans-serif; color: var(--muted); caption-side: bottom; }
table.grid th { font-weight: 500; color: var(--muted); background: var(--bg); }
table.grid thead th { position: sticky; z-index: 2; }
table.grid thead tr.days th { top: 0; height: 13px; text-align: left; padding: 0 0 0 2px; }
table.grid thead tr.hours th { top: 14px; height: 12px; }
table.grid thead tr.cycles th, table.grid thead tr.cycles td { position: sticky; top: 27px; z-index: 2; background: var(--bg); }
table.grid tbody th { position: sticky; left: 0; z-index: 1; text-align: left; padding: 0 6px 0 2px; white-space: nowrap; font: 11px/1 system-ui, sans-serif; color: var(--fg); max-width: 11em; overflow: hidden; text-overflow: ellipsis; }
table.grid tbody th .flag { color: var(--f); font-weight: 700; margin-left: 3px; }
table.grid tbody th.off { color: var(--muted); font-style: italic; }
table.grid td { padding: 0; }
table.grid td > a, table.grid td > span { display: block; width: 15px; height: 12px; line-height: 12px; text-align: center; text-decoration: none; border-radius: 2px; }
table.grid thead tr.hours a { color: var(--muted); }
table.grid td > a:hover { outline: 1px solid var(--fg); }
table.grid a:focus-visible { outline: 2px solid var(--focus); outline-offset: 0; position: relative; z-index: 3; }
table.grid .d { background: var(--d-bg); color: var(--d); }
table.grid .r { background: var(--r-bg); color: var(--r); font-weight: 700; }
table.grid .l { background: var(--l-bg); color: var(--l); font-weight: 700; }
table.grid .f { background: var(--f-bg); color: var(--f); font-weight: 700; }
table.grid .m { background: var(--m-bg); color: var(--m); }
table.grid .w { background: var(--w-bg); color: var(--w); }
table.grid .x { background: var(--x-bg); color: var(--x); }
table.grid .n { background: transparent; }
/* An hour whose schema changed since the hour before: a corner mark (its title says it in words). */
table.grid td > .s { background-image: linear-gradient(225deg, var(--l) 4px, transparent 4px); }
table.grid .hl, table.grid .hx { color: var(--f); font-weight: 700; }
table.grid .ht, table.grid .hd { color: var(--d); }
table.grid .hc, table.grid .hr, table.grid .hf, table.grid .hs { color: var(--r); }
table.grid .he, table.grid .hn { color: var(--muted); }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; margin: 8px 0; font-size: 12px; color: var(--muted); }
.legend span.k.s { background-image: linear-gradient(225deg, var(--l) 4px, transparent 4px); }
.legend span.k { display: inline-block; min-width: 15px; text-align: center; font: 10px/13px ui-monospace, monospace; border-radius: 2px; margin-right: 4px; }
.pager { display: flex; gap: 12px; align-items: baseline; flex-wrap: wrap; margin: 2px 0 6px; }
#live { font-size: 12px; }

/* The transaction's timeline and the charts: SVG drawn on the server, coloured from here. */
svg.chart { display: block; max-width: 100%; height: auto; overflow: visible; }
svg.chart text { fill: var(--muted); font: 10px system-ui, sans-serif; }
svg.chart .axis { stroke: var(--line); stroke-width: 1; }
svg.chart .grid-line { stroke: var(--line); stroke-width: 1; stroke-dasharray: 2 3; }
svg.chart .p50 { fill: none; stroke: var(--r); stroke-width: 1.6; }
svg.chart .p95 { fill: none; stroke: var(--l); stroke-width: 1.6; stroke-dasharray: 4 2; }
svg.chart .bar-ok { fill: var(--d); } svg.chart .bar-failed { fill: var(--f); } svg.chart .bar-running { fill: var(--r); } svg.chart .bar-other { fill: var(--m); }
svg.spark { display: block; }
svg.spark polyline { fill: none; stroke: var(--r); stroke-width: 1.3; }
svg.spark circle { fill: var(--r); }
svg.spark polyline.slow { stroke: var(--f); }
svg.spark circle.slow { fill: var(--f); }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 10px 22px; }
.charts figure { margin: 0; }
.charts figcaption { font-weight: 600; margin-bottom: 2px; }
.key { font-size: 12px; color: var(--muted); }
.key .p50 { color: var(--r); font-weight: 700; } .key .p95 { color: var(--l); font-weight: 700; }
tr.slow th, tr.slow td { color: var(--f); }
`;
