// The key map: one table from keys to actions. The keyboard handler dispatches through it and the
// buttons' tooltips name their keys from it, so a key is bound and documented in one place.

export const KEYMAP = [
  { keys: ['1', '2', '3', '4', '5'], label: '1-5', action: 'score' },  // score the focused field, move on
  { keys: ['Backspace', 'ArrowLeft'], label: '←', action: 'prevField' },
  { keys: ['ArrowRight', 'Tab'], label: '→', action: 'nextField' },
  { keys: ['ArrowUp'], label: '↑', action: 'fieldAbove' },
  { keys: ['ArrowDown'], label: '↓', action: 'fieldBelow' },
  { keys: ['b', 'B'], label: 'B', action: 'broken' },
  { keys: ['Enter'], label: 'Enter', action: 'submit' },
  { keys: [' '], label: 'Space', action: 'toggle' },
  { keys: ['k', 'K'], label: 'K', action: 'pause' },
  { keys: ['l', 'L'], label: 'L', action: 'playOrFaster' },
  { keys: ['j', 'J'], label: 'J', action: 'backOneSecond' },
  { keys: [','], label: ',', action: 'frameBack' },
  { keys: ['.'], label: '.', action: 'frameForward' },
  { keys: ['-'], label: '-', action: 'slower' },
  { keys: ['=', '+'], label: '=', action: 'faster' },
  { keys: ['['], label: '[', action: 'loopStart' },
  { keys: [']'], label: ']', action: 'loopEnd' },
  { keys: ['\\'], label: '\\', action: 'loopClear' },
  { keys: ['s', 'S'], label: 'S', action: 'solo' },
  { keys: ['z', 'Z'], label: 'Z', action: 'zoom' },
  { keys: ['Home'], label: 'Home', action: 'toStart' },
  { keys: ['Escape'], label: 'Esc', action: 'unsolo' },
];

const BY_KEY = new Map(KEYMAP.flatMap((row) => row.keys.map((k) => [k, row.action])));

export function actionFor(key) {
  return BY_KEY.get(key) || null;
}

// "Space, K" for keyHint('toggle', 'pause'): the keys of these actions, as a tooltip names them.
export function keyHint(...actions) {
  return actions.map((a) => KEYMAP.find((row) => row.action === a).label).join(', ');
}

// The actions the table names, on a built player `p` (see main.js); each gets the key pressed.
export function keyActions(p) {
  const { st, axes, SPEEDS } = p;
  const up = () => SPEEDS[Math.min(SPEEDS.length - 1, SPEEDS.indexOf(st.rate) + 1)];
  return {
    score: (k) => p.score(Number(k), true),
    prevField: () => p.setFocus(st.focus - 1),
    nextField: () => p.setFocus(st.focus + 1),
    fieldAbove: () => p.setFocus(st.focus - axes.length),
    fieldBelow: () => p.setFocus(st.focus + axes.length),
    broken: () => { const s = p.focusSlot(); if (s) p.setBroken(s, !st.broken[s]); },
    submit: () => p.submit(),
    toggle: () => p.toggle(),
    pause: () => p.pause(),
    playOrFaster: () => { if (st.playing) p.setRate(up()); else p.play(); },
    backOneSecond: () => { const m = p.master(); if (m) p.seekAll(m.currentTime - 1); },
    frameBack: () => p.step(-1),
    frameForward: () => p.step(1),
    slower: () => p.setRate(SPEEDS[Math.max(0, SPEEDS.indexOf(st.rate) - 1)]),
    faster: () => p.setRate(up()),
    loopStart: () => {
      const m = p.master(); st.loopA = m ? m.currentTime : 0;
      if (st.loopB != null && st.loopB <= st.loopA) st.loopB = null;
      p.paintLoop();
    },
    loopEnd: () => {
      const m = p.master();
      if (m) { st.loopB = m.currentTime; if (st.loopA == null || st.loopA >= st.loopB) st.loopA = 0; }
      p.paintLoop();
    },
    loopClear: () => { st.loopA = st.loopB = null; p.paintLoop(); },
    solo: () => p.toggleSolo(),
    zoom: () => p.toggleZoom(),
    toStart: () => p.seekAll(0),
    unsolo: () => { if (st.solo !== null) p.toggleSolo(); },
  };
}
