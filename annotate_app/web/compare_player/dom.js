// Small DOM helpers of the comparison player.

export function el(tag, cls, parent) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (parent) parent.appendChild(e);
  return e;
}

export function playedSeconds(v) {
  let s = 0;
  for (let i = 0; i < v.played.length; i++) s += v.played.end(i) - v.played.start(i);
  return s;
}

export function typing(t) {
  return t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName)
               && !['checkbox', 'range', 'button'].includes(t.type));
}
