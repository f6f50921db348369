"""Pass rate over time as an inline SVG (no script, no external asset: opens offline)."""

from __future__ import annotations

from html import escape

from conformance.report.history import RunPoint

W, H = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 40


def pass_rate_svg(points: list[RunPoint]) -> str:
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    n = len(points)

    def x(i: int) -> float:
        return LEFT + (plot_w / 2 if n == 1 else plot_w * i / (n - 1))

    def y(rate: float) -> float:
        return TOP + plot_h * (1 - rate)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="pass rate over time" '
             f'viewBox="0 0 {W} {H}" width="{W}" height="{H}" class="chart">']
    for pct in (0, 25, 50, 75, 100):
        yy = y(pct / 100)
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}" class="grid"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end" class="axis">{pct}%</text>')
    coords = [(x(i), y(p.pass_rate)) for i, p in enumerate(points) if p.pass_rate is not None]
    if len(coords) > 1:
        path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
        parts.append(f'<polyline points="{path}" class="line"/>')
    for i, p in enumerate(points):
        label = escape(p.started_at[:16].replace("T", " "))
        if i in (0, n - 1) or n <= 8:
            anchor = "end" if i == n - 1 and n > 1 else "start" if i == 0 and n > 1 else "middle"
            parts.append(f'<text x="{x(i):.1f}" y="{H - BOTTOM + 16}" text-anchor="{anchor}" '
                         f'class="axis">{label[5:]}</text>')
        if p.pass_rate is None:
            continue
        cls = "dot" + (" incomplete" if p.status != "complete" else "") + (" current" if i == n - 1 else "")
        rate = f"{p.pass_rate * 100:.1f}%"
        parts.append(f'<circle cx="{x(i):.1f}" cy="{y(p.pass_rate):.1f}" r="4" class="{cls}">'
                     f'<title>{label} UTC: {rate} ({p.passed} passed, {p.failed} failed of {p.total}; '
                     f'{escape(p.status)}) run {escape(p.run_id)}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)
