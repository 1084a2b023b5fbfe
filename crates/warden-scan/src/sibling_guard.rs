//! Routes missing the auth check their siblings have.
//!
//! A file that guards some of its routes (`@login_required`, `[Authorize]`, an auth
//! middleware) and not others is where a forgotten check hides; deciding whether a
//! given route must be guarded needs an agent, but selecting the file is cheap. A rule
//! with `check = "sibling-guard"` matches route declarations; its hits are kept only for
//! routes with no guard of their own, in a file where at least one route has one.

use crate::matcher::RawHit;
use crate::rules::{Check, Role, Rule};
use regex::Regex;
use std::sync::LazyLock;

/// A guard belongs to the nearest route at most this many lines away: decorators and
/// annotations sit just above or below the route line, middleware on it.
const GUARD_REACH: u32 = 3;

/// Words of a route line (its path or handler name) that say it is public by design:
/// such a route is no finding for lacking the guard its siblings have.
const PUBLIC_BY_DESIGN: &[&str] = &[
    "login", "logout", "signin", "signup", "sign", "register", "forgot", "verify", "confirm",
    "health", "healthz", "ping", "status", "assets", "callback", "oauth", "webhook", "index",
    "home", "about", "favicon", "robots", "captcha", "version", "welcome", "landing",
];

/// Whether a word of the line (split at punctuation and camelCase humps) says so. A
/// handler's return type (`-> Status`, `-> Json<Invoice>`) names what it answers, not
/// the route.
fn public_by_design(route_line: &str) -> bool {
    let route_line: String = route_line
        .lines()
        .map(|l| match l.find(") ->") {
            Some(i) if l.contains("fn ") => &l[..=i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut words = crate::words::words(&route_line);
    // A response code argument (`status_code=204`, `status.HTTP_201_CREATED`) names no
    // route.
    let mut i = 0;
    while i + 1 < words.len() {
        if words[i] == "status" && matches!(words[i + 1].as_str(), "code" | "http") {
            words.remove(i);
        } else {
            i += 1;
        }
    }
    let has = |set: &[&str]| words.iter().any(|w| set.contains(&w.as_str()));
    // "Reset" is public in a password-reset flow; `/metrics/reset` or `/cache/reset`
    // is an administrative action like any other.
    has(PUBLIC_BY_DESIGN) || has(&["reset"]) && has(RESET_OF_CREDENTIALS)
}

/// Words that make a "reset" route the public password-reset flow.
const RESET_OF_CREDENTIALS: &[&str] = &["password", "passwd", "pwd", "pass", "credentials"];

/// A route's declaration: its line and, for a decorator or annotation, those below it
/// down to the handler's own line (where its name is).
fn declaration(content: &[u8], line: u32) -> String {
    let mut out = String::new();
    let lines = content
        .split(|&b| b == b'\n')
        .skip(line.saturating_sub(1) as usize);
    for l in lines.take(GUARD_REACH as usize + 2) {
        let l = String::from_utf8_lossy(l);
        out.push_str(&l);
        out.push('\n');
        let t = l.trim_start();
        let decoration = t.starts_with('@') || t.starts_with("#[") || t.starts_with('[');
        if !decoration {
            break;
        }
    }
    out
}

/// Keeps, of the hits of sibling-guard rules, those on unguarded routes of a file where
/// another route is guarded; drops the rest, and the route guards themselves (they say
/// nothing about other sinks: a login check does not make a query safe). Other hits are untouched.
/// `content` is the file's: a route's handler name may sit on a line below its route.
pub(crate) fn apply(rules: &[Rule], hits: &mut Vec<RawHit>, content: &[u8]) {
    let is_route = |h: &RawHit| rules[h.rule].check == Some(Check::SiblingGuard);
    // The route guards of the `authz-*` packs; an authz sanitizer of a language pack
    // (an owner check such as `python.ownership-scope`) is left for scoring, where it
    // answers the object lookups next to it.
    let is_guard = |h: &RawHit| {
        let rule = &rules[h.rule];
        rule.role == Role::Sanitizer && rule.category == "authz" && rule.pack.starts_with("authz-")
    };
    let routes: Vec<u32> = hits
        .iter()
        .filter(|h| is_route(h))
        .map(|h| h.line)
        .collect();
    // A Laravel controller's constructor middleware (`$this->middleware('auth')`)
    // authenticates every action of the class: it is no per-action guard, and must not
    // be taken for the guard of whichever action happens to follow the constructor.
    let guards: Vec<u32> = hits
        .iter()
        .filter(|h| is_guard(h) && !h.snippet.trim_start().starts_with("$this->middleware("))
        .map(|h| h.line)
        .collect();
    if routes.is_empty() && guards.is_empty() {
        return;
    }
    let scopes: Vec<Scope> = hits
        .iter()
        .filter(|h| is_guard(h))
        .filter_map(|h| Scope::of(h, content))
        .collect();
    let route_hits: Vec<(u32, Option<String>)> = hits
        .iter()
        .filter(|h| is_route(h))
        .map(|h| (h.line, receiver(&h.snippet)))
        .collect();
    hits.retain(|h| !is_guard(h));
    let mut guarded: Vec<u32> = route_hits
        .iter()
        .filter(|(line, recv)| scopes.iter().any(|s| s.covers(*line, recv.as_deref())))
        .map(|(line, _)| *line)
        .collect();
    for g in guards {
        // A guard over a group or a router speaks for the routes it covers, not for
        // whichever route happens to be written next to it.
        if scopes.iter().any(|s| s.line() == g) {
            continue;
        }
        // Nearest route within reach; on a tie the one above (a decorator under its route).
        let owner = routes
            .iter()
            .copied()
            .filter(|&r| r.abs_diff(g) <= GUARD_REACH)
            .min_by_key(|&r| (r.abs_diff(g), r > g));
        if let Some(r) = owner {
            guarded.push(r);
        }
    }
    guarded.sort_unstable();
    let Some(&example) = guarded.first() else {
        hits.retain(|h| !is_route(h));
        return;
    };
    hits.retain_mut(|h| {
        if !is_route(h) {
            return true;
        }
        if guarded.contains(&h.line) || public_by_design(&declaration(content, h.line)) {
            return false;
        }
        h.snippet = format!(
            "no auth check, while the route at line {example} has one: {}",
            h.snippet
        );
        true
    });
}

/// A guard that covers more routes than the one written next to it.
enum Scope {
    /// A router made with, or given, an auth middleware: `api := r.Group("/api",
    /// AuthRequired())`, `api.Use(jwtAuth())`, `router.use(requireAuth)`. Routes declared
    /// on it below that line are guarded; routes on another router are not. Made inside
    /// a block (chi's `r.Group(func(r chi.Router) { r.Use(auth) … })`), it ends where
    /// that block closes: a route on a same-named router after it is not guarded.
    Router {
        name: String,
        from: u32,
        to: Option<u32>,
    },
    /// A group whose closure holds its routes: `Route::middleware('auth')->group(function
    /// () { … })`, Ktor's `authenticate("admin") { … }`. Routes inside the braces are
    /// guarded.
    Block { from: u32, to: u32 },
}

static GROUP_ASSIGNED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:var\s+|let\s+|const\s+)?([\w.]+)\s*:?=\s*[\w.]+\.Group\(")
        .expect("group pattern")
});
static MIDDLEWARE_ADDED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*([\w.]+)\.(?:Use|use)\(").expect("use pattern"));
static ROUTE_RECEIVER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*([\w.]+)\.\w+\(").expect("receiver pattern"));

impl Scope {
    fn of(guard: &RawHit, content: &[u8]) -> Option<Scope> {
        let line = guard.snippet.as_str();
        if let Some(c) = GROUP_ASSIGNED
            .captures(line)
            .or_else(|| MIDDLEWARE_ADDED.captures(line))
        {
            return Some(Scope::Router {
                name: c[1].to_string(),
                from: guard.line,
                to: enclosing_end(content, guard.line),
            });
        }
        if line.contains("->group(") || line.trim_start().starts_with("authenticate") {
            let to = block_end(content, guard.line)?;
            return Some(Scope::Block {
                from: guard.line,
                to,
            });
        }
        // A group closed by its guard: Slim's `$app->group('/x', function ($g) { … })
        // ->add(Auth::class)`. Routes between the group's opening brace and here are guarded.
        if line.trim_start().starts_with('}') {
            if let Some(from) = block_start(content, guard.line) {
                return Some(Scope::Block {
                    from,
                    to: guard.line,
                });
            }
        }
        // An attribute or annotation on the class (`#[IsGranted('ROLE_USER')]`,
        // `[Authorize]`, `@PreAuthorize` above `class X`) guards every action in it.
        if let Some(class_line) = class_below(content, guard.line) {
            let to = block_end(content, class_line)?;
            return Some(Scope::Block {
                from: guard.line,
                to,
            });
        }
        None
    }

    fn line(&self) -> u32 {
        match self {
            Scope::Router { from, .. } | Scope::Block { from, .. } => *from,
        }
    }

    fn covers(&self, route: u32, receiver: Option<&str>) -> bool {
        match self {
            Scope::Router { name, from, to } => {
                route > *from && to.is_none_or(|to| route <= to) && receiver == Some(name.as_str())
            }
            Scope::Block { from, to } => *from < route && route <= *to,
        }
    }
}

static CLASS_DECLARATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^\s*(?:(?:public|internal|final|abstract|sealed|partial|readonly|open)\s+)*class\s+\w",
    )
    .expect("class pattern")
});

/// The line of the class declaration that the decorations starting at `line` belong
/// to: only attributes or annotations lie between them.
fn class_below(content: &[u8], line: u32) -> Option<u32> {
    let lines = content
        .split(|&b| b == b'\n')
        .skip(line as usize)
        .take(GUARD_REACH as usize + 2);
    for (i, l) in lines.enumerate() {
        let l = String::from_utf8_lossy(l);
        let t = l.trim_start();
        if t.starts_with('@') || t.starts_with("#[") || t.starts_with('[') {
            continue;
        }
        return CLASS_DECLARATION
            .is_match(&l)
            .then_some(line + 1 + i as u32);
    }
    None
}

/// The router a route is declared on: `api` in `api.GET("/orders", list)`.
fn receiver(route_line: &str) -> Option<String> {
    ROUTE_RECEIVER
        .captures(route_line)
        .map(|c| c[1].to_string())
}

/// The line where the block holding `line` closes (the first `}` below it that no
/// brace opened after it matches), if it is inside one.
fn enclosing_end(content: &[u8], line: u32) -> Option<u32> {
    let start = line_offset(content, line);
    let mut depth = 0usize;
    let mut current = line;
    for &b in content.get(start..)? {
        match b {
            b'{' => depth += 1,
            b'}' if depth == 0 => return Some(current),
            b'}' => depth -= 1,
            b'\n' => current += 1,
            _ => {}
        }
    }
    None
}

/// The byte offset where 1-based `line` starts.
fn line_offset(content: &[u8], line: u32) -> usize {
    content
        .split(|&b| b == b'\n')
        .take(line.saturating_sub(1) as usize)
        .map(|l| l.len() + 1)
        .sum()
}

/// The line where the block closed by the first `}` on `line` opens (braces counted
/// backwards, strings ignored like `block_end` does), if it does.
fn block_start(content: &[u8], line: u32) -> Option<u32> {
    let start = line_offset(content, line);
    let close = start + content.get(start..)?.iter().position(|&b| b == b'}')?;
    let mut depth = 0usize;
    let mut current = line;
    for &b in content.get(..close)?.iter().rev() {
        match b {
            b'}' => depth += 1,
            b'{' if depth == 0 => return Some(current),
            b'{' => depth -= 1,
            b'\n' => current = current.checked_sub(1)?,
            _ => {}
        }
    }
    None
}

/// The line where the block opened on `line` closes (braces counted, strings ignored
/// for simplicity: a brace inside a route's path is rare), if it does.
fn block_end(content: &[u8], line: u32) -> Option<u32> {
    let start = line_offset(content, line);
    let mut depth = 0usize;
    let mut opened = false;
    let mut current = line;
    for &b in content.get(start..)? {
        match b {
            b'{' => {
                depth += 1;
                opened = true;
            }
            b'}' if opened => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(current);
                }
            }
            b'\n' => current += 1,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::public_by_design;
    use crate::rules::builtin_packs;

    #[test]
    fn public_routes_by_their_words() {
        for line in [
            "@app.route('/login', methods=['POST'])",
            "router.post('/auth/sign-up', create)",
            "def register(request):",
            "app.get('/healthz', ok)",
            "router.get('/reset-password/:token', showReset)",
            "@app.route('/password/reset/<token>')",
            "post(\"/auth/resetPassword\") {",
            "@router.get(\"/status\", status_code=200)",
            "Route::get('/', fn () => view('welcome'));",
        ] {
            assert!(public_by_design(line), "{line}");
        }
        for line in [
            "@DeleteMapping(\"/admin/users/{id}\")",
            "@app.route('/orders/<int:oid>')",
            "def export_all(request):",
            "post(\"/metrics/reset\") { call.respond(metrics.reset()) }",
            "@PostMapping(\"/admin/cache/reset\")",
            "@router.delete(\"/requests/{request_id}\", status_code=204)",
            "@router.post(\"/orders\", status_code=status.HTTP_201_CREATED)",
            "#[delete(\"/tickets/<id>\")]\nasync fn delete_ticket(id: i64, db: &State<Db>) -> Status {",
        ] {
            assert!(!public_by_design(line), "{line}");
        }
    }
    use crate::{Language, RuleSet};

    fn hits(lang: Language, src: &str) -> Vec<(String, u32, String)> {
        let rules: Vec<_> = builtin_packs()
            .expect("packs")
            .into_iter()
            .filter(|p| p.id.starts_with("authz-") && p.covers(lang))
            .flat_map(|p| p.rules)
            .collect();
        let set = RuleSet::compile(rules, [lang], |_, _| true).expect("compile");
        let mut raw = set.find(lang, src.as_bytes());
        super::apply(set.rules(), &mut raw, src.as_bytes());
        raw.into_iter()
            .filter(|h| set.rules()[h.rule].check.is_some())
            .map(|h| (set.rules()[h.rule].id.clone(), h.line, h.snippet))
            .collect()
    }

    #[test]
    fn flask_route_without_the_decorator_its_siblings_have() {
        let src = "\
@app.route('/profile')
@login_required
def profile():
    return render(current_user)

@app.route('/admin/delete/<int:uid>', methods=['POST'])
def delete_user(uid):
    User.query.get(uid).delete()

@app.route('/settings')
@login_required
def settings():
    return render(current_user)
";
        let got = hits(Language::Python, src);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].1, 6);
        assert!(got[0].2.contains("line 1 has one"), "{}", got[0].2);
    }

    #[test]
    fn django_decorators_above_the_view_belong_to_it() {
        let src = "\
@login_required
def orders(request):
    return list_orders(request.user)
def export_all(request):
    return dump_everything()
";
        let got = hits(Language::Python, src);
        assert_eq!(
            got.iter().map(|g| g.1).collect::<Vec<_>>(),
            vec![4],
            "{got:?}"
        );
    }

    #[test]
    fn angular_routes_without_the_guard_their_siblings_have() {
        let src = "\
const routes: Routes = [
  {
    path: 'address/saved',
    component: SavedAddressComponent,
    canActivate: [LoginGuard]
  },
  {
    path: 'order-history',
    component: OrderHistoryComponent
  },
  {
    path: 'login',
    component: LoginComponent
  },
]
";
        let got = hits(Language::TypeScript, src);
        assert_eq!(
            got.iter().map(|g| g.1).collect::<Vec<_>>(),
            vec![8],
            "{got:?}"
        );
    }

    #[test]
    fn all_guarded_or_none_guarded_says_nothing() {
        let none = "@app.route('/a')\ndef a():\n    pass\n\n@app.route('/b')\ndef b():\n    pass\n";
        assert!(hits(Language::Python, none).is_empty());
        let all = "app.get('/a', requireAuth, a)\napp.post('/b', requireAuth, b)\n";
        assert!(hits(Language::JavaScript, all).is_empty());
    }

    #[test]
    fn express_middleware_and_spring_annotations() {
        let js = "\
router.get('/me', requireAuth, me)
router.delete('/users/:id', deleteUser)
router.post('/login', authController.login)
";
        // The login route is public by design.
        let got = hits(Language::JavaScript, js);
        assert_eq!(
            got.iter().map(|g| g.1).collect::<Vec<_>>(),
            vec![2],
            "{got:?}"
        );
        let java = "\
    @PreAuthorize(\"hasRole('ADMIN')\")
    @GetMapping(\"/admin/users\")
    public List<User> users() { return repo.findAll(); }

    @DeleteMapping(\"/admin/users/{id}\")
    public void delete(@PathVariable long id) { repo.deleteById(id); }
";
        let got = hits(Language::Java, java);
        assert_eq!(
            got.iter().map(|g| g.1).collect::<Vec<_>>(),
            vec![5],
            "{got:?}"
        );
    }

    #[test]
    fn a_route_on_the_engine_beside_an_auth_group() {
        let src = "\
func Routes(r *gin.Engine) {
\tapi := r.Group(\"/api\", AuthRequired())
\tapi.GET(\"/orders\", listOrders)
\tapi.POST(\"/orders\", createOrder)
\tr.DELETE(\"/api/orders/:id\", deleteOrder)
\tr.GET(\"/healthz\", health)
}
";
        let got = hits(Language::Go, src);
        assert_eq!(
            got.iter().map(|g| g.1).collect::<Vec<_>>(),
            vec![5],
            "{got:?}"
        );
        assert!(got[0].2.contains("line 3 has one"), "{}", got[0].2);
    }

    #[test]
    fn express_routes_declared_after_router_use_are_guarded() {
        let src = "\
router.get('/public/terms', terms);
router.use(requireAuth);
router.get('/projects', listProjects);
router.delete('/projects/:id', deleteProject);
adminRouter.delete('/users/:id', deleteUser);
";
        let got = hits(Language::JavaScript, src);
        // `terms` is declared before the middleware: public by position, and a finding.
        assert_eq!(
            got.iter().map(|g| g.1).collect::<Vec<_>>(),
            vec![1, 5],
            "{got:?}"
        );
    }

    #[test]
    fn ktor_routes_outside_the_authenticate_block() {
        let src = "\
fun Route.admin(users: Users) {
    route(\"/admin\") {
        authenticate(\"admin\") {
            get(\"/users\") { call.respond(users.list()) }
            delete(\"/users/{id}\") {
                users.delete(call.parameters[\"id\"]!!)
            }
        }
        delete(\"/cache\") { users.flush() }
        get(\"/login\") { call.respondText(\"form\") }
    }
}
";
        let got = hits(Language::Kotlin, src);
        assert_eq!(
            got.iter().map(|g| g.1).collect::<Vec<_>>(),
            vec![9],
            "{got:?}"
        );
    }

    #[test]
    fn laravel_routes_outside_the_auth_group() {
        let src = "\
<?php
Route::middleware(['auth'])->group(function () {
    Route::get('/billing', [BillingController::class, 'index']);
    Route::post('/billing/cards', [BillingController::class, 'store']);
});
Route::delete('/billing/cards/{card}', [BillingController::class, 'destroy']);
Route::get('/login', [LoginController::class, 'show']);
";
        let got = hits(Language::Php, src);
        assert_eq!(
            got.iter().map(|g| g.1).collect::<Vec<_>>(),
            vec![6],
            "{got:?}"
        );
    }

    #[test]
    fn a_guard_on_the_class_covers_its_actions() {
        let symfony = "\
<?php
#[Route('/appointments')]
#[IsGranted('ROLE_USER')]
class AppointmentController extends AbstractController
{
    #[Route('', methods: ['GET'])]
    public function list(): Response {}

    #[Route('/staff', methods: ['GET'])]
    #[IsGranted('ROLE_STAFF')]
    public function staff(): Response {}
}
";
        assert!(hits(Language::Php, symfony).is_empty());
        let csharp = "\
[Authorize]
public class PayslipsController : Controller
{
    [HttpGet]
    public IActionResult Index() => View();

    [HttpDelete]
    [Authorize(Roles = \"Admin\")]
    public IActionResult Delete(int id) => Ok();
}
";
        assert!(hits(Language::CSharp, csharp).is_empty());
        // A guard on one action does not cover its unguarded sibling.
        let partial = "\
<?php
class ExportController extends AbstractController
{
    #[Route('/export/all')]
    public function all(): Response {}

    #[Route('/export/mine')]
    #[IsGranted('ROLE_USER')]
    public function mine(): Response {}
}
";
        let got = hits(Language::Php, partial);
        assert_eq!(
            got.iter().map(|g| g.1).collect::<Vec<_>>(),
            vec![4],
            "{got:?}"
        );
    }

    #[test]
    fn slim_routes_beside_a_guarded_group() {
        let src = "\
<?php
$app->get('/login', LoginAction::class);
$app->group('/tickets', function (RouteCollectorProxy $group) {
    $group->get('/{id}', ShowTicket::class);
    $group->post('/{id}/close', CloseTicket::class);
})->add(AuthMiddleware::class);
$app->get('/reports/export', ExportReports::class);
$app->get('/me', Profile::class)->add(AuthMiddleware::class);
";
        let got = hits(Language::Php, src);
        assert_eq!(
            got.iter().map(|g| g.1).collect::<Vec<_>>(),
            vec![7],
            "{got:?}"
        );
    }
}
