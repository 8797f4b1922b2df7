// The console's frame: the header and the pages (task list, a task, create a test task).
import { Link, Route, Switch } from "wouter";
import { TaskListPage } from "./list/TaskListPage";
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

function Header() {
  const { me, signedIn, canControl, signOut } = useSession();
  return (
    <header className="top">
      <Link href="/" className="brand">
        taskgraph
      </Link>
      <nav aria-label="Main">
        <Link href="/">Tasks</Link>
        {canControl && <Link href="/new">Create test task</Link>}
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
