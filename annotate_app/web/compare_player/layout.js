// The grid fills the viewport below its top edge; solo (one candidate) and the mouth zoom.

export const PANEL_MIN_W = 196;

export function makeLayout(p) {
  const { st, slots, cells, videos, box, grid, crop } = p;

  function layout() {
    const shown = st.solo === null ? slots.length : 1;
    if (!shown) return;
    const W = grid.clientWidth || box.clientWidth || 800;
    const top = grid.getBoundingClientRect().top + window.scrollY;
    const H = Math.max(260, window.innerHeight - top - 8);
    const first = cells[slots[0]];
    const panel = first.cell.offsetHeight - first.vbox.offsetHeight || 110;
    const gap = 8, frame = 10;  // grid gap; a cell's border + padding
    let best = { h: 0, c: 1 };
    for (let c = 1; c <= shown; c++) {
      const r = Math.ceil(shown / c);
      const cellW = (W - gap * (c - 1)) / c - frame;
      if (cellW < PANEL_MIN_W && c > 1) break;
      const h = Math.min(cellW / st.aspect, (H - gap * (r - 1)) / r - panel);
      if (h > best.h) best = { h, c };
    }
    const h = Math.max(60, Math.floor(best.h));
    const w = Math.floor(h * st.aspect);
    grid.style.gridTemplateColumns = `repeat(${best.c}, ${Math.max(w, PANEL_MIN_W) + frame}px)`;
    for (const s of slots) { cells[s].vbox.style.height = h + 'px'; cells[s].vbox.style.width = w + 'px'; }
    box.dataset.cols = String(best.c);
  }
  function toggleSolo() {
    const f = p.focusSlot();
    const wasPlaying = st.playing;
    if (wasPlaying) p.pause();
    st.solo = st.solo === f ? null : f;
    for (const s of slots) cells[s].cell.hidden = st.solo !== null && s !== st.solo;
    box.classList.toggle('solo', st.solo !== null);
    layout();
    if (wasPlaying) p.play();
  }
  function toggleZoom() {
    const f = p.focusSlot();
    if (!f) return;
    st.zoom[f] = !st.zoom[f];
    const v = videos[f];
    if (st.zoom[f]) {
      // Scale the crop box up to the frame and move its centre to the frame's centre.
      // The box around this candidate's lips (from its face box, found on the server), else the default.
      const [x0, y0, x1, y1] = p.crops[f] || crop, s = 1 / Math.max(x1 - x0, y1 - y0);
      const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
      v.style.transformOrigin = '0 0';
      v.style.transform = `translate(${(0.5 - s * cx) * 100}%, ${(0.5 - s * cy) * 100}%) scale(${s})`;
    } else v.style.transform = '';
    cells[f].cell.classList.toggle('zoomed', !!st.zoom[f]);
  }
  return { layout, toggleSolo, toggleZoom };
}
