"""The HTML report's stylesheet: inline in the page (no asset from the network), readable at
420 px (cards wrap; charts keep a readable size and tables their group column, both
scrolling sideways within their section) and printable."""

from __future__ import annotations

__all__ = ["CSS"]

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2630;
margin:0;background:#f6f7f9;font-size:15px;line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:17px;margin:0 0 10px}
.sub{color:#4a5260;margin:0 0 18px;font-size:14px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:18px}
.card{background:#fff;border-radius:8px;padding:12px 16px;min-width:130px;flex:1 1 130px;
box-shadow:0 1px 2px rgba(0,0,0,.08)}
.card b{display:block;font-size:22px}.card span{color:#4a5260;font-size:13px}
section{background:#fff;border-radius:8px;padding:16px 18px;margin-bottom:16px;
box-shadow:0 1px 2px rgba(0,0,0,.08)}
.note{color:#4a5260;font-size:13px;margin:8px 0 0}
.notice{background:#fff4e6;border-left:4px solid #f08c00}
.legend{display:flex;flex-wrap:wrap;gap:6px 14px;font-size:13px;margin:0 0 8px}
.key i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;
vertical-align:-1px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:6px 16px;margin:0;font-size:14px}
dt{font-weight:600}dd{margin:0}
table{border-collapse:collapse;font-size:12px;width:100%}
th,td{padding:4px 6px;border-bottom:1px solid #e3e7ec;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
th{background:#f0f2f5;position:sticky;top:0}
td.s{color:#868e96;font-style:italic}
.scroll{overflow-x:auto}
h3{font-size:14px;margin:14px 0 6px}
table.transitions{width:auto}table.transitions td{min-width:44px;text-align:center}
td.tr-hidden{background:repeating-linear-gradient(45deg,#eceff3 0 4px,#d5dae1 4px 6px)}
@media (max-width:600px){main{padding:12px 10px 32px}h1{font-size:20px}
.card{min-width:100px;padding:8px 10px}.card b{font-size:18px}section{padding:10px}
dl{grid-template-columns:1fr}dd{margin:0 0 6px}
section{overflow-x:auto}section>svg{min-width:600px}
td:first-child,th:first-child{position:sticky;left:0;background:#fff;z-index:1}
th:first-child{background:#f0f2f5}}
@media print{body{background:#fff;font-size:12px}main{max-width:none;padding:0}
section,.card{box-shadow:none;border:1px solid #ccd2da;break-inside:avoid}
th{position:static}.scroll{overflow:visible}}
"""
