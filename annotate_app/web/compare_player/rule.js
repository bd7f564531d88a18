// What blocks a submit. The rule and its messages come from the server (data.rule, rendered by
// annotate_app/web/player.py, whose problems() applies the same rule), so there is one source.

export function fill(template, vars) {
  return template.replace(/\{(\w+)\}/g, (_, k) => vars[k]);
}

// [{text, field, slot}]: a slot's missing scores (field: the first missing one) and unwatched videos.
export function missing(p) {
  const { st, slots, axes, rule } = p;
  const required = axes.filter((ax) => rule.required.includes(ax.name));
  const out = [];
  slots.forEach((slot, si) => {
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
  return !p.st.broken[slot] && (p.st.watched[slot] || { frac: 0 }).frac < p.rule.min_fraction;
}
