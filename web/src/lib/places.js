// places: the server's validation reasons name the place they concern
// ("targets[0].items[1].period: 0 is out of range [1, 3600]"); this puts each
// under the place the form shows, so the editor can show it by its field.

// "targets[0].items[1].period" -> "targets[0].items[1]" -> "targets[0].items"
// -> "targets[0]" -> "targets" -> "".
export function parentPlace(p) {
  const q = p.replace(/(\.[A-Za-z_]\w*|\[\d+\])$/, '');
  return q === p ? '' : q;
}

// {place: [messages]}: each reason under the place it names (the message
// without the place), or under the nearest shown ancestor (the whole reason,
// so the user still reads which field it is about); reasons naming no shown
// place go under "".
export function placeErrors(reasons, places) {
  const out = {};
  for (const r of reasons) {
    const m = /^([A-Za-z_][\w.[\]]*): (.*)$/s.exec(r);
    let place = m ? m[1] : '';
    while (place && !places.has(place)) place = parentPlace(place);
    (out[place] ||= []).push(m && place === m[1] ? m[2] : r);
  }
  return out;
}
