// One clock for every candidate: the focused candidate's video is the master (and the only one
// with sound); the others follow it. A video that could not load (p.failed) never takes part.
//
// Sync: the clock starts only when every taking part video can play (readyState >= 3), so none
// starts late. While playing, every frame the master presents (requestVideoFrameCallback; rAF where
// missing) each follower's drift is corrected by its playbackRate, proportional to the drift, so
// it catches up without a visible jump; only past SEEK_FRAMES frames is it re-seeked. Also frame
// steps, speed and the A-B loop.

export const SPEEDS = [0.25, 0.5, 0.75, 1, 1.25, 1.5, 2];
const SEEK_FRAMES = 3;  // drift beyond this many frames: jump (a seek stutters, but sync is what is judged)
const GAIN = 15;  // rate correction per second of drift: 10 ms behind runs 15 % faster
const MAX_NUDGE = 0.5;  // never more than +-50 % of the chosen speed
const CAN_PLAY = 3;  // HTMLMediaElement.HAVE_FUTURE_DATA

export function makeClock(p) {
  const { st, slots, videos, fps } = p;
  let raf = 0, vfc = 0, vfcVideo = null;

  const live = (s) => !p.failed[s];
  const visible = () => slots.filter((s) => live(s) && (st.solo === null || s === st.solo)).map((s) => videos[s]);
  function master() {
    const f = p.focusSlot();
    if (f && live(f) && (st.solo === null || st.solo === f)) return videos[f];
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
    for (const s of slots) if (live(s)) videos[s].currentTime = t;
    showTime(t);
  }
  function ready() { return visible().every((v) => v.readyState >= CAN_PLAY); }
  function play() {
    const m = master();
    if (!m) return;
    const dur = duration();
    let t = m.currentTime;
    if (dur && t >= dur - 0.5 / fps) t = st.loopA != null ? st.loopA : 0;
    const vs = visible();
    for (const v of vs) { if (v.currentTime !== t) v.currentTime = t; v.playbackRate = st.rate; }
    if (!ready()) {  // start together, once every video can play at t (a late one would start out of sync)
      st.waiting = true; p.box.classList.add('cp-waiting'); p.playBtn.dataset.state = 'paused';
      return;
    }
    st.waiting = false; p.box.classList.remove('cp-waiting');
    st.playing = true; p.playBtn.dataset.state = 'playing';
    const go = () => {
      if (!st.playing) return;
      for (const v of vs) { const pr = v.play(); if (pr && pr.catch) pr.catch(() => {}); }
      schedule();
    };
    // Start every video once each has landed on t: a video still seeking would start late.
    const seeking = vs.filter((v) => v.seeking);
    if (!seeking.length) go();
    else Promise.all(seeking.map((v) => new Promise((r) => v.addEventListener('seeked', r, { once: true })))).then(go);
  }
  // A tile became able to play (or failed): a play the annotator asked for starts when all can.
  function onReady() { if (st.waiting && ready()) play(); }
  function pause() {
    const m = master();
    st.playing = false; st.waiting = false; p.box.classList.remove('cp-waiting'); p.playBtn.dataset.state = 'paused';
    unschedule();
    for (const s of slots) videos[s].pause();
    if (m) seekAll(m.currentTime);  // every video shows the same frame when stopped
  }
  function toggle() { (st.playing || st.waiting) ? pause() : play(); }
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
    unschedule();
    showTime();
  }
  // Two loops while playing: one per frame the master presents (its mediaTime is when the frame was
  // due) and one per display frame (so a master that presents nothing, stalled or ended, is noticed).
  function schedule() {
    unschedule();
    const m = master();
    if (m && m.requestVideoFrameCallback) { vfcVideo = m; vfc = m.requestVideoFrameCallback(onFrame); }
    raf = requestAnimationFrame(onDisplay);
  }
  function onFrame() {
    vfc = 0;
    if (!st.playing) return;
    const m = master();
    if (m !== vfcVideo) { schedule(); return; }  // the focus moved: follow the new master
    follow(m);
    vfc = m.requestVideoFrameCallback(onFrame);
  }
  function onDisplay() { raf = 0; tick(); }
  function unschedule() {
    cancelAnimationFrame(raf); raf = 0;
    if (vfc && vfcVideo && vfcVideo.cancelVideoFrameCallback) vfcVideo.cancelVideoFrameCallback(vfc);
    vfc = 0; vfcVideo = null;
  }
  function follow(m) {
    const t = m.currentTime;
    for (const v of visible()) {
      if (v === m || v.ended) continue;
      const drift = v.currentTime - t;
      if (Math.abs(drift) > SEEK_FRAMES / fps) {
        v.currentTime = t + 0.03 * st.rate;  // a seek lands a little late
        v.playbackRate = st.rate;
      } else {
        const nudge = Math.max(-MAX_NUDGE, Math.min(MAX_NUDGE, drift * GAIN));
        v.playbackRate = st.rate * (1 - nudge);
      }
      if (v.paused && !m.paused) { const pr = v.play(); if (pr && pr.catch) pr.catch(() => {}); }
    }
  }
  function tick() {
    if (!st.playing) return;
    const m = master();
    if (!m) return;
    const t = m.currentTime;
    if (st.loopB != null && t >= st.loopB) { seekAll(st.loopA || 0); play(); return; }
    follow(m);
    showTime(t);
    if (m !== vfcVideo || !vfc) schedule(); else raf = requestAnimationFrame(onDisplay);
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
  return { master, duration, seekAll, play, pause, toggle, step, setRate, onEnded, onReady, showTime, toggleLoop,
           paintLoop, stopClock: unschedule };
}
