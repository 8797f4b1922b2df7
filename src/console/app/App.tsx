// The console's frame: the header and the pages (task list, a task, start an operation, create a
// test task, modules, workers, settings).
import { lazy, Suspense } from "react";
import { Link, Route, Switch, useRoute } from "wouter";
import { TaskListPage } from "./list/TaskListPage";
import { ModulesPage } from "./pages/ModulesPage";
import { SettingsPage } from "./pages/SettingsPage";
import { WorkersPage } from "./pages/WorkersPage";
import "./pages.css";

/** The Start page brings the form generator (rjsf and its ajv validator): loaded on first use. */
const StartPage = lazy(() => import("./pages/StartPage").then((m) => ({ default: m.StartPage })));
import { SessionProvider, useSession } from "./session";
import { CreateTestTaskPage } from "./task/CreateTestTaskPage";
import { TaskPage } from "./task/TaskPage";

export function App() {
  return (
    <SessionProvider>
      <Header />
      <Switch>
        <Route path="/">
          <TaskListPage />
        </Route>
        <Route path="/tasks/:id">{(params) => <TaskPage key={params.id} id={params.id} />}</Route>
        <Route path="/new">
          <NewTask />
        </Route>
        <Route path="/start">
          <Start />
        </Route>
        <Route path="/modules">
          <ModulesPage />
        </Route>
        <Route path="/workers">
          <WorkersPage />
        </Route>
        <Route path="/settings">
          <SettingsPage />
        </Route>
        <Route>
          <main>
            <p className="page-note">
              No such page. <Link href="/">The task list</Link>
            </p>
          </main>
        </Route>
      </Switch>
    </SessionProvider>
  );
}

function NewTask() {
  const { canControl } = useSession();
  if (!canControl) return <p className="page-note">Your role may not start tasks.</p>;
  return <CreateTestTaskPage />;
}

function Start() {
  const { canControl } = useSession();
  if (!canControl) return <p className="page-note">Your role may not start tasks.</p>;
  return (
    <Suspense fallback={<p className="page-note">Loading the form…</p>}>
      <StartPage />
    </Suspense>
  );
}

/** A nav link marked as the current page when its route matches. */
function NavLink({ href, children }: { href: string; children: string }) {
  const [active] = useRoute(href);
  return (
    <Link href={href} aria-current={active ? "page" : undefined}>
      {children}
    </Link>
  );
}

function Header() {
  const { me, signedIn, canControl, signOut } = useSession();
  return (
    <header className="top">
      <Link href="/" className="brand">
        taskgraph
      </Link>
      <nav aria-label="Main">
        <NavLink href="/">List</NavLink>
        {canControl && <NavLink href="/start">Start</NavLink>}
        {canControl && <NavLink href="/new">Create test task</NavLink>}
        <NavLink href="/modules">Modules</NavLink>
        <NavLink href="/workers">Workers</NavLink>
        {me.role === "ADMIN" && <NavLink href="/settings">Settings</NavLink>}
        <a href="/graphql">GraphiQL</a>
      </nav>
      <div className="who">
        <span title={me.protectedMode ? "Protected mode: no API token exists yet; this machine is served as ADMIN" : undefined}>
          {me.name} <span className="role">{me.role}</span>
        </span>
        {signedIn && (
          <button type="button" className="link" onClick={signOut}>
            Sign out
          </button>
        )}
      </div>
    </header>
  );
}
