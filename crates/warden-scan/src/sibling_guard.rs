//! Routes missing the auth check their siblings have.
//!
//! A file that guards some of its routes (`@login_required`, `[Authorize]`, an auth
//! middleware) and not others is where a forgotten check hides; deciding whether a
//! given route must be guarded needs an agent, but selecting the file is cheap. A rule
//! with `check = "sibling-guard"` matches route declarations; its hits are kept only for
//! routes with no guard of their own, in a file where at least one route has one.

use crate::matcher::RawHit;
use crate::rules::{Check, Role, Rule};

/// A guard belongs to the nearest route at most this many lines away: decorators and
/// annotations sit just above or below the route line, middleware on it.
const GUARD_REACH: u32 = 3;

/// Keeps, of the hits of sibling-guard rules, those on unguarded routes of a file where
/// another route is guarded; drops the rest, and the guards themselves (they say nothing
/// about other sinks: a login check does not make a query safe). Other hits are untouched.
pub(crate) fn apply(rules: &[Rule], hits: &mut Vec<RawHit>) {
    let is_route = |h: &RawHit| rules[h.rule].check == Some(Check::SiblingGuard);
    let is_guard =
        |h: &RawHit| rules[h.rule].role == Role::Sanitizer && rules[h.rule].category == "authz";
    let routes: Vec<u32> = hits
        .iter()
        .filter(|h| is_route(h))
        .map(|h| h.line)
        .collect();
    let guards: Vec<u32> = hits
        .iter()
        .filter(|h| is_guard(h))
        .map(|h| h.line)
        .collect();
    if routes.is_empty() && guards.is_empty() {
        return;
    }
    hits.retain(|h| !is_guard(h));
    let mut guarded: Vec<u32> = Vec::new();
    for g in guards {
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
    let Some(&example) = guarded.first() else {
        hits.retain(|h| !is_route(h));
        return;
    };
    hits.retain_mut(|h| {
        if !is_route(h) {
            return true;
        }
        if guarded.contains(&h.line) {
            return false;
        }
        h.snippet = format!(
            "no auth check, while the route at line {example} has one: {}",
            h.snippet
        );
        true
    });
}

#[cfg(test)]
mod tests {
    use crate::rules::builtin_packs;
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
        super::apply(set.rules(), &mut raw);
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
        let got = hits(Language::JavaScript, js);
        assert_eq!(
            got.iter().map(|g| g.1).collect::<Vec<_>>(),
            vec![2, 3],
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
}
