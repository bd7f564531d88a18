// What blocks a submit. The rule and its messages come from the server (data.rule, rendered by
// annotate_app/web/player.py, whose problems() applies the same rule), so there is one source.

export function fill(template, vars) {
  return template.replace(/\{(\w+)\}/g, (_, k) => vars[k]);
}

// The watched share in whole percent, rounded down: what the badge shows and what the rule compares.
export function watchedPercent(rule, frac) {
  return Math.floor(100 * frac + rule.percent_eps);
}

export function watchedEnough(rule, frac) {
  return watchedPercent(rule, frac) >= Math.ceil(100 * rule.min_fraction - rule.percent_eps);
}

// [{text, field, slot}]: a slot's missing scores (field: the first missing one) and unwatched videos.
// A slot marked broken (a video that could not load is marked so) needs neither.
export function missing(p) {
  const { st, slots, axes, rule } = p;
  const required = axes.filter((ax) => rule.required.includes(ax.name));
  const out = [];
  slots.forEach((slot, si) => {
    if (st.broken[slot]) return;
    const has = (ax) => !!(st.scores[slot] || {})[ax.name];
    const names = required.filter((ax) => !has(ax)).map((ax) => ax.short);
    if (names.length) out.push({ text: fill(rule.give, { slot, fields: names.join(rule.join) }),
                                 field: si * axes.length + axes.findIndex((ax) => !has(ax)), slot });
    if (unwatched(p, slot)) out.push({ text: fill(rule.unwatched, { slot }), field: null, slot });
  });
  return out;
}

// Not marked broken and played less than the share the rule asks for.
export function unwatched(p, slot) {
  return !p.st.broken[slot] && !watchedEnough(p.rule, (p.st.watched[slot] || { frac: 0 }).frac);
}
