// contprof web UI: the app shell and its routes.
import { render } from 'preact';
import { installLinkHandler, match, useLocation, href } from './lib/router.js';
import { ServicesView } from './views/services.jsx';
import { ServiceView } from './views/service.jsx';
import { ProcessView } from './views/process.jsx';
import { TaskView } from './views/task.jsx';
import { CompareView } from './views/compare.jsx';
import { Empty } from './views/common.jsx';
import './style.css';

const ROUTES = [
  ['/', () => <ServicesView />],
  ['/ui', () => <ServicesView />],
  ['/ui/services', () => <ServicesView />],
  ['/ui/services/:service', (p) => <ServiceView service={p.service} tab="overview" />],
  ['/ui/services/:service/:tab', (p) => <ServiceView service={p.service} tab={p.tab} />],
  ['/ui/processes/:id', (p) => <ProcessView id={p.id} tab="tasks" />],
  ['/ui/processes/:id/:tab', (p) => <ProcessView id={p.id} tab={p.tab} />],
  ['/ui/tasks/:id', (p) => <TaskView id={p.id} />],
  ['/ui/compare', (p, q) => <CompareView a={q.a} b={q.b} />],
];

function App() {
  const { path, query } = useLocation();
  let view = null;
  for (const [pattern, make] of ROUTES) {
    const params = pattern === '/' ? (path === '/' ? {} : null) : match(pattern, path);
    if (params) { view = make(params, query); break; }
  }
  return (
    <>
      <header class="top">
        <a class="brand" href={href.services()}>contprof</a>
        <nav><a href={href.services()}>Services</a></nav>
        <span class="tz" title="Times are shown in this time zone">{Intl.DateTimeFormat().resolvedOptions().timeZone}</span>
      </header>
      <main>{view || <Empty>No page at {path}. <a href={href.services()}>Go to the services.</a></Empty>}</main>
    </>
  );
}

installLinkHandler();
const root = document.getElementById('app');
root.textContent = ''; /* the static "Loading" placeholder */
render(<App />, root);
