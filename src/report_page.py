"""eval.py's listening page: OUT/index.html with, per file, the reference and synthesized audio side by
side, the spectrogram picture when there is one (drawn by spectrogram_png), and the file's report row;
then the mean row.

Self-contained and static: HTML5 <audio controls> with relative, URL-quoted src paths (the reference
WAV may live outside the output folder, e.g. DATASET/val_wav/NAME.wav, and is linked by its path
relative to the page), inline CSS, no JavaScript, nothing from the network. Opening the file from
disk works as long as the output folder and the references stay where they are relative to it.
"""
import html
import io
import os
from urllib.parse import quote

PAGE_NAME = "index.html"

_CSS = """
body { font-family: sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; }
p.note { color: #555; margin-top: 0; }
section { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 0.8em 1em; margin: 1em 0; }
h2 { font-size: 1.1em; margin: 0 0 0.6em 0; }
.players { display: flex; flex-wrap: wrap; gap: 1.5em; }
.player { flex: 1 1 320px; }
.player h3 { font-size: 0.9em; margin: 0 0 0.3em 0; color: #444; }
.player audio { width: 100%; }
.missing { color: #888; font-style: italic; }
img.spec { max-width: 100%; margin-top: 0.8em; border: 1px solid #eee; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.85em; margin-top: 0.8em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.5em; text-align: right; }
th { background: #f0f0f0; }
td:first-child, th:first-child { text-align: left; }
tr.mean td { font-weight: bold; background: #f6f6ff; }
"""


def spectrogram_png(reference_mel, synthesized_mel, title, floor):
    """The page's picture as PNG bytes: the reference (or input) log-mel above the synthesized one, one
    colour scale from `floor` up. eval.py's NAME.png; the TensorBoard log's images (src.tensorboard_log)."""
    import matplotlib  # pylint: disable=import-outside-toplevel

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    vmin, vmax = floor, float(max(reference_mel.max(), synthesized_mel.max()))
    for ax, mel, label in ((axes[0], reference_mel, "reference"), (axes[1], synthesized_mel, "synthesized")):
        im = ax.imshow(mel, origin="lower", aspect="auto", interpolation="none", vmin=vmin, vmax=vmax)
        ax.set_title(f"{title}: {label} log-mel")
        ax.set_ylabel("mel band")
    axes[1].set_xlabel("frame")
    fig.colorbar(im, ax=axes, shrink=0.8)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return buffer.getvalue()


def href(target, page_dir):
    """`target` (a file path) as a URL relative to the folder of the page, '/'-separated and quoted."""
    rel = os.path.relpath(os.path.abspath(target), os.path.abspath(page_dir))
    return quote(rel.replace(os.sep, "/"))


def _e(text):
    return html.escape(str(text), quote=True)


def _player(label, src):
    if src is None:
        body = '<p class="missing">no reference audio known</p>'
    else:
        body = f'<audio controls preload="metadata" src="{_e(src)}"></audio>'
    return f'<div class="player"><h3>{_e(label)}</h3>{body}</div>'


def _table(columns, rows, fmt, mean_row=None):
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = ["<tr>" + "".join(f"<td>{_e(fmt(r.get(c)))}</td>" for c in columns) + "</tr>" for r in rows]
    if mean_row is not None:
        body.append('<tr class="mean">' + "".join(f"<td>{_e(fmt(mean_row.get(c)))}</td>" for c in columns) + "</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def render(output_path, rows, mean, columns, fmt=str, title="MelGAN evaluation"):
    """The page's HTML. `rows` are eval.py's report rows (with "name" and "reference", the reference
    WAV's path or None); NAME.wav and, when present, NAME.png are looked for in `output_path`."""
    sections = []
    for row in rows:
        name = row["name"]
        synth = os.path.join(output_path, name + ".wav")
        reference = row.get("reference")
        players = (_player("reference", href(reference, output_path) if reference else None)
                   + _player("synthesized", href(synth, output_path)))
        picture = os.path.join(output_path, name + ".png")
        image = (f'<img class="spec" src="{_e(href(picture, output_path))}" '
                 f'alt="{_e(name)}: reference (or input) log-mel above, synthesized below">' if os.path.isfile(picture) else "")
        sections.append(f'<section id="{_e(name)}"><h2>{_e(name)}</h2><div class="players">{players}</div>'
                        f'{image}{_table(columns, [row], fmt)}</section>')
    summary = f'<section id="mean"><h2>all files and the mean</h2>{_table(columns, rows, fmt, mean)}</section>'
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            f"<h1>{_e(title)}</h1>\n<p class=\"note\">{len(rows)} file(s). Reference (when known) and synthesized "
            "audio side by side; the spectrogram picture shows the reference (or, without one, the input) log-mel "
            "above the synthesized one. "
            "Columns: docs/evaluation.md.</p>\n"
            + "\n".join(sections) + "\n" + summary + "\n</body>\n</html>\n")


def write_page(output_path, rows, mean, columns, fmt=str, title="MelGAN evaluation"):
    """Write OUT/index.html atomically; returns its path."""
    from src.fileio import write_text

    path = os.path.join(output_path, PAGE_NAME)
    write_text(path, render(output_path, rows, mean, columns, fmt, title))
    return path
