// One clock for every candidate: the focused candidate's video is the master (and the only one
// with sound); the others follow it, nudged by playback rate for small drift and re-seeked for
// large drift. Also frame steps, speed and the A-B loop.

export const SPEEDS = [0.25, 0.5, 0.75, 1, 1.25, 1.5, 2];

export function makeClock(p) {
  const { st, slots, videos, fps } = p;
  let raf = 0, lastFix = 0;

  const visible = () => slots.filter((s) => st.solo === null || s === st.solo).map((s) => videos[s]);
  function master() {
    const f = p.focusSlot();
    if (f && (st.solo === null || st.solo === f)) return videos[f];
    return visible()[0];
  }
  function duration() {
    let m = Infinity;
    for (const v of visible()) if (v.duration && isFinite(v.duration)) m = Math.min(m, v.duration);
    return isFinite(m) ? m : 0;
  }
  function seekAll(t) {
    const dur = duration();
    t = Math.max(0, dur ? Math.min(t, dur) : t);
    for (const s of slots) videos[s].currentTime = t;
    showTime(t);
  }
  function play() {
    const m = master();
    if (!m) return;
    const dur = duration();
    let t = m.currentTime;
    if (dur && t >= dur - 0.5 / fps) t = st.loopA != null ? st.loopA : 0;
    for (const v of visible()) { v.currentTime = t; v.playbackRate = st.rate; }
    st.playing = true; p.playBtn.dataset.state = 'playing';
    for (const v of visible()) { const pr = v.play(); if (pr && pr.catch) pr.catch(() => {}); }
    cancelAnimationFrame(raf); raf = requestAnimationFrame(tick);
  }
  function pause() {
    const m = master();
    st.playing = false; p.playBtn.dataset.state = 'paused';
    cancelAnimationFrame(raf);
    for (const s of slots) videos[s].pause();
    if (m) seekAll(m.currentTime);  // every video shows the same frame when stopped
  }
  function toggle() { st.playing ? pause() : play(); }
  function step(n) {
    if (st.playing) pause();
    const m = master();
    if (!m) return;
    const frame = Math.floor(m.currentTime * fps + 1e-3) + n;  // the frame on screen at t is floor(t * fps)
    seekAll(frame / fps + 0.0001);  // a hair past the frame boundary shows that frame in every browser
  }
  function setRate(r) {
    st.rate = r; p.speed.value = String(r);
    for (const s of slots) videos[s].playbackRate = r;
  }
  function onEnded() {
    if (st.loopA != null) { seekAll(st.loopA); play(); return; }
    // Followers a frame or two behind play on to their own end (so they count as watched too).
    st.playing = false; p.playBtn.dataset.state = 'paused';
    cancelAnimationFrame(raf);
    showTime();
  }
  function tick(now) {
    if (!st.playing) return;
    const m = master();
    const t = m.currentTime;
    if (st.loopB != null && t >= st.loopB) { seekAll(st.loopA || 0); play(); return; }
    if (now - lastFix > 100) {
      // Small drift: run the follower a little faster or slower (no visible jump); more than
      // three frames: jump it to the master's time (a seek stutters, but sync is what is judged).
      lastFix = now;
      for (const v of visible()) {
        if (v === m) continue;
        const drift = v.currentTime - t;
        if (Math.abs(drift) > 3 / fps) v.currentTime = t + 0.05 * st.rate;  // a seek lands a little late
        else if (Math.abs(drift) > 0.25 / fps) v.playbackRate = st.rate * (1 - Math.max(-0.25, Math.min(0.25, drift * 3)));
        else v.playbackRate = st.rate;
        if (v.paused && !m.paused && !v.ended) { const pr = v.play(); if (pr && pr.catch) pr.catch(() => {}); }
      }
    }
    showTime(t);
    raf = requestAnimationFrame(tick);
  }
  function showTime(t) {
    const m = master();
    if (t === undefined) t = m ? m.currentTime : 0;
    const dur = duration();
    p.clock.textContent = t.toFixed(2) + ' / ' + dur.toFixed(2) + ' s · frame ' + Math.floor(t * fps + 1e-6);
    if (dur && document.activeElement !== p.scrub) p.scrub.value = String(Math.round(1000 * t / dur));
  }
  function toggleLoop() {
    if (st.loopA != null || st.loopB != null) { st.loopA = st.loopB = null; }
    else { const m = master(); st.loopA = m ? m.currentTime : 0; }
    paintLoop();
  }
  function paintLoop() {
    const on = st.loopA != null;
    p.loopBtn.classList.toggle('on', on);
    p.loopBtn.textContent = on ? '⟲ ' + st.loopA.toFixed(2) + '–' + (st.loopB != null ? st.loopB.toFixed(2) : 'end') : '⟲ loop';
  }
  function stop() { cancelAnimationFrame(raf); }
  return { master, duration, seekAll, play, pause, toggle, step, setRate, onEnded, showTime, toggleLoop,
           paintLoop, stopClock: stop };
}
