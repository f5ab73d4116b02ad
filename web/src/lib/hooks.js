// hooks: loading data into views with explicit loading / error / empty states.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

// Runs `load` when deps change; {data, error, loading, reload}. A result
// that arrives after deps changed again is dropped.
export function useData(load, deps) {
  const [state, setState] = useState({ data: undefined, error: null, loading: true });
  const gen = useRef(0);
  const run = useCallback(() => {
    const mine = ++gen.current;
    setState((s) => ({ ...s, loading: true, error: null }));
    Promise.resolve().then(load).then(
      (data) => { if (mine === gen.current) setState({ data, error: null, loading: false }); },
      (error) => { if (mine === gen.current) setState({ data: undefined, error, loading: false }); });
  }, deps);
  useEffect(run, [run]);
  return { ...state, reload: run };
}

export function useWidth(ref) {
  const [w, setW] = useState(0);
  useEffect(() => {
    if (!ref.current) return undefined;
    const ro = new ResizeObserver((es) => setW(Math.floor(es[0].contentRect.width)));
    ro.observe(ref.current);
    return () => ro.disconnect();
  }, [ref.current]);
  return w;
}
