// flame: a d3-flame-graph of a flame tree, with search, reset zoom and a
// tooltip giving the frame's value and its share of the whole profile.
// `differential` colours frames by their `delta` (red grew, blue shrank).
import { useEffect, useRef, useState } from 'preact/hooks';
import { select } from 'd3-selection';
import flamegraph, { colorMapper, tooltip } from 'd3-flame-graph';
import '../../node_modules/d3-flame-graph/dist/d3-flamegraph.css'; /* not in its exports map */
import { useWidth } from '../lib/hooks.js';

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));

export function Flame({ tree, fmt, unit, differential = false, tipExtra }) {
  const box = useRef(null);
  const chart = useRef(null);
  const width = useWidth(box);
  const [term, setTerm] = useState('');
  const [found, setFound] = useState(null);
  const total = tree.value || 0;

  useEffect(() => {
    if (!width) return undefined;
    const tip = tooltip.defaultFlamegraphTooltip().html((d) => {
      const pct = total ? ((100 * d.data.value) / total).toFixed(2) : '0';
      return `<strong>${esc(d.data.name)}</strong><br>${esc(fmt(d.data.value))} ${unit} · ${pct}% of total` +
        (tipExtra ? `<br>${tipExtra(d.data)}` : '');
    });
    const c = flamegraph()
      .width(width)
      .cellHeight(18)
      .minFrameSize(1)
      .transitionDuration(300)
      .sort(true)
      .tooltip(tip)
      .setSearchMatch((d, t) => !!t && String(d.data.name).toLowerCase().includes(t.toLowerCase()))
      .setSearchHandler((results, sum, all) => setFound({ n: results.length, sum, all }));
    if (differential) c.computeDelta(true).setColorMapper(colorMapper.differentialColorMapper);
    chart.current = c;
    box.current.innerHTML = '';
    select(box.current).datum(structuredClone(tree)).call(c);
    if (term) c.search(term);
    return () => { c.destroy(); chart.current = null; };
  }, [tree, width, differential]);

  const search = (t) => {
    setTerm(t);
    if (!chart.current) return;
    if (t) chart.current.search(t);
    else { chart.current.clear(); setFound(null); }
  };
  return (
    <div class="flame">
      <div class="toolbar">
        <input type="search" placeholder="Search frames" value={term} aria-label="search frames"
          onInput={(e) => search(e.target.value)} />
        <button type="button" onClick={() => chart.current && chart.current.resetZoom()}>Reset zoom</button>
        <span class="muted flame-details">
          {found && term ? `${found.n} frame${found.n === 1 ? '' : 's'} match: ${fmt(found.sum)} ${unit}, ${found.all ? ((100 * found.sum) / found.all).toFixed(2) : 0}% of total`
            : `${fmt(total)} ${unit} in total · click a frame to zoom`}
        </span>
      </div>
      <div class="flame-chart" ref={box} />
    </div>
  );
}
