//! Jane's grants pages served over HTTP, SQLite and PostgreSQL: she sees every grant
//! with its use, reads its history, revokes it (and the client's next request fails,
//! in every process on the database), disconnects a client, and turns a remembered
//! decision off; forms without the CSRF token change nothing; nobody sees another
//! owner's grants; markup in names stays text; pages forbid framing and script.

use crate::support::Server;
use crate::support::browser::{Browser, Client, Page};
use grantlog_store::photos::{Photo, insert_photo};
use grantlog_store::testing::TestDatabase;
use grantlog_store::{ConnectOptions, EventStore, backend_tests};

const HARBOUR: &str = "Port Ellen harbour at dawn";
const DISTILLERY: &str = "The distillery's warehouses";

fn beppa(server: &Server) -> Client<'_> {
    Client { server, key: "beppa-demo-key".to_owned(), secret: "beppa-demo-secret".to_owned() }
}

fn jane(server: &Server) -> Browser {
    let mut jane = Browser::new();
    jane.log_in(server, "jane", "islay-scotch");
    jane
}

/// The grant ids on a grants page, in page order.
fn grant_ids(page: &Page) -> Vec<String> {
    page.body
        .split("<article class=\"grant\" id=\"grant-")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .collect()
}

/// The article of grant `id` on a grants page.
fn article<'a>(page: &'a Page, id: &str) -> &'a str {
    let start = page.body.find(&format!("id=\"grant-{id}\"")).unwrap_or_else(|| panic!("{id}: {}", page.body));
    let rest = &page.body[start..];
    &rest[..rest.find("</article>").unwrap()]
}

/// The `dd` after the `dt` named `term` in `html`.
fn detail<'a>(html: &'a str, term: &str) -> &'a str {
    let rest = &html[html.find(&format!("<dt>{term}</dt><dd>")).unwrap_or_else(|| panic!("{term}: {html}"))..];
    let rest = &rest[rest.find("<dd>").unwrap() + 4..];
    &rest[..rest.find("</dd>").unwrap()]
}

fn post_form(browser: &mut Browser, server: &Server, path: &str, csrf: Option<&str>) -> Page {
    let fields: Vec<(&str, &str)> = csrf.map(|token| ("csrf_token", token)).into_iter().collect();
    browser.submit(&server.url(path), &fields)
}

async fn jane_reviews_her_grant_reads_its_history_and_revokes_it(database: TestDatabase) {
    let server = Server::start_with(&database.url, &["--demo"]);
    let beppa = beppa(&server);
    let mut jane = jane(&server);
    let empty = jane.get(&server.url("/account/grants"));
    assert!(empty.body.contains("You have not given any application access"), "{}", empty.body);

    let request = beppa.request_token("r-1");
    let verifier = jane.approve(&server, &request.0, &[("photos", "islay-harbour"), ("expires", "1hour")]);
    let access = beppa.exchange(&request, &verifier, "x-1");
    for nonce in ["p-1", "p-2", "p-3"] {
        assert_eq!(beppa.photos(&server, &access, nonce).status, 200);
    }

    let page = jane.get(&server.url("/account/grants"));
    assert_eq!(page.status, 200);
    for (name, expected) in [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(page.header(name), Some(expected), "{name}");
    }
    let csp = page.csp.as_deref().unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"), "{csp}");
    assert!(!csp.contains("script-src") && !page.body.contains("<script"), "{csp}");
    let ids = grant_ids(&page);
    assert_eq!(ids.len(), 1, "{}", page.body);
    let grant = article(&page, &ids[0]);
    assert!(grant.contains("data-status=\"active\""), "{grant}");
    assert!(grant.contains(HARBOUR) && !grant.contains(DISTILLERY), "only the chosen photo: {grant}");
    assert_eq!(detail(grant, "Access"), "Read-only access");
    assert_eq!(detail(grant, "Uses"), "3");
    assert_eq!(detail(grant, "Remembered"), "No");
    assert!(detail(grant, "Last used").starts_with("<time datetime="), "{grant}");
    assert!(page.body.contains("<h2 id=\"client-"), "grouped under the client");
    assert!(page.body.contains(">Beppa Prints</h2>"));

    let history = jane.get(&server.url(&format!("/account/grants/{}", ids[0])));
    assert_eq!(history.status, 200);
    assert_eq!(history.header("x-content-type-options"), Some("nosniff"));
    for line in [
        "Beppa Prints asked for read-only access to your photos",
        "You approved read-only access to 1 photo for one hour",
        "Beppa Prints exchanged it for an access token",
        "Beppa Prints fetched 3 times",
    ] {
        assert!(history.body.contains(line), "{line}: {}", history.body);
    }
    assert!(history.body.contains("event <code>#"), "event ids are shown");

    // Without the form's CSRF token: 403, and the token still works.
    let revoke = format!("/account/grants/{}/revoke", ids[0]);
    assert_eq!(post_form(&mut jane, &server, &revoke, None).status, 403);
    assert_eq!(post_form(&mut jane, &server, &revoke, Some("forged")).status, 403);
    assert_eq!(beppa.photos(&server, &access, "p-4").status, 200);

    let csrf = jane.csrf(&server, "/account/grants");
    let done = post_form(&mut jane, &server, &revoke, Some(&csrf));
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location, Some(format!("/account/grants?revoked={}", ids[0])));
    let confirmed = jane.get(&server.url(done.location.as_deref().unwrap()));
    assert!(confirmed.body.contains("role=\"status\""), "{}", confirmed.body);
    assert!(
        confirmed.body.contains("You revoked Beppa Prints&#39;s access")
            || confirmed.body.contains("You revoked Beppa Prints's access"),
        "{}",
        confirmed.body
    );
    assert!(article(&confirmed, &ids[0]).contains("data-status=\"revoked\""));

    let refused = beppa.photos(&server, &access, "p-5");
    assert_eq!(refused.status, 401);
    assert!(refused.www_authenticate.unwrap_or_default().contains("oauth_problem=\"token_revoked\""));
    let history = jane.get(&server.url(&format!("/account/grants/{}", ids[0])));
    assert!(history.body.contains("You revoked it"), "{}", history.body);
    // Revoking what has ended changes nothing and says so.
    assert_eq!(post_form(&mut jane, &server, &revoke, Some(&csrf)).status, 409);

    // Logging out needs the form's token too; then the pages send her to log in.
    assert_eq!(post_form(&mut jane, &server, "/logout", None).status, 403);
    assert_eq!(jane.get(&server.url("/account/grants")).status, 200, "still logged in");
    let out = post_form(&mut jane, &server, "/logout", Some(&csrf));
    assert_eq!((out.status, out.location.as_deref()), (303, Some("/login")));
    let anonymous = jane.get(&server.url("/account/grants"));
    assert_eq!((anonymous.status, anonymous.location.as_deref()), (303, Some("/login?next=%2Faccount%2Fgrants")));
}

async fn owners_see_only_their_own_grants_and_names_stay_text(database: TestDatabase) {
    let server = Server::start_with(&database.url, &["--demo"]);
    server.add_owner("bob", "bob-password-1");
    let (key, secret) = server.add_client_named("<script>alert('x')</script> Prints", "http://127.0.0.1:*");
    let client = Client { server: &server, key, secret };
    // A photo whose title is markup.
    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    let jane_id = jane_id(&store).await;
    let photo = Photo {
        photo_id: "markup".to_owned(),
        owner_id: jane_id,
        title: "<img src=x onerror=alert(1)>".to_owned(),
        content_type: "image/png".to_owned(),
    };
    insert_photo(store.side_tables(), &photo, b"png").await.unwrap();

    let mut jane = jane(&server);
    let request = client.request_token("r-1");
    let verifier = jane.approve(&server, &request.0, &[("photos", "markup")]);
    let access = client.exchange(&request, &verifier, "x-1");
    let page = jane.get(&server.url("/account/grants"));
    assert!(page.body.contains("&lt;script&gt;alert('x')&lt;/script&gt; Prints"), "{}", page.body);
    assert!(page.body.contains("&lt;img src=x onerror=alert(1)&gt;"), "{}", page.body);
    assert!(!page.body.contains("<script>") && !page.body.contains("<img"), "{}", page.body);
    let id = grant_ids(&page).remove(0);
    let history = jane.get(&server.url(&format!("/account/grants/{id}")));
    assert!(history.body.contains("&lt;script&gt;alert('x')&lt;/script&gt; Prints asked"), "{}", history.body);
    assert!(!history.body.contains("<script>"));

    // Bob sees none of it, and cannot touch it.
    let mut bob = Browser::new();
    bob.log_in(&server, "bob", "bob-password-1");
    let his = bob.get(&server.url("/account/grants"));
    assert!(grant_ids(&his).is_empty() && !his.body.contains("Prints"), "{}", his.body);
    assert_eq!(bob.get(&server.url(&format!("/account/grants/{id}"))).status, 404);
    let csrf = bob.csrf(&server, "/account/grants");
    assert_eq!(post_form(&mut bob, &server, &format!("/account/grants/{id}/revoke"), Some(&csrf)).status, 404);
    let client_id = between(&page.body, "action=\"/account/clients/", "/revoke\"");
    let disconnect = format!("/account/clients/{client_id}/revoke");
    assert_eq!(post_form(&mut bob, &server, &disconnect, Some(&csrf)).status, 404);
    assert_eq!(client.photos(&server, &access, "p-1").status, 200, "Jane's grant still works");

    // A visitor is sent to log in, and back to the page asked for; never elsewhere.
    let mut visitor = Browser::new();
    let sent = visitor.get(&server.url(&format!("/account/grants/{id}")));
    assert_eq!(sent.location, Some(format!("/login?next=%2Faccount%2Fgrants%2F{id}")));
    assert_eq!(post_form(&mut visitor, &server, &format!("/account/grants/{id}/revoke"), None).status, 403);
    let form = visitor.get(&server.url("/login?next=%2F%2Fevil.example%2Faccount%2F"));
    assert!(form.body.contains("name=\"next\" value=\"/account/grants\""), "{}", form.body);
}

async fn a_remembered_decision_skips_the_prompt_until_she_turns_it_off(database: TestDatabase) {
    let server = Server::start_with(&database.url, &["--demo"]);
    let beppa = beppa(&server);
    let mut jane = jane(&server);
    let first = beppa.request_token("r-1");
    let remembered =
        [("photos", "islay-harbour"), ("photos", "islay-distillery"), ("expires", "1day"), ("remember", "yes")];
    let verifier = jane.approve(&server, &first.0, &remembered);
    beppa.exchange(&first, &verifier, "x-1");

    // Beppa asks again: no prompt, straight back with a verifier.
    let second = beppa.request_token("r-2");
    let skipped = jane.get(&server.url(&format!("/oauth/authorize?oauth_token={}", second.0)));
    assert_eq!(skipped.status, 302, "{}", skipped.body);
    let access = beppa.exchange(&second, &crate::support::browser::verifier(&skipped), "x-2");
    assert_eq!(beppa.photos(&server, &access, "p-1").status, 200);

    let page = jane.get(&server.url("/account/grants"));
    assert!(page.body.contains("Remembered decision:"), "{}", page.body);
    assert!(page.body.contains("Forget this decision"), "{}", page.body);
    let ids = grant_ids(&page);
    assert_eq!(ids.len(), 2);
    let newest = jane.get(&server.url(&format!("/account/grants/{}", ids[0])));
    assert!(
        newest
            .body
            .contains("Your remembered decision approved read-only access to 2 photos for one day without asking"),
        "{}",
        newest.body
    );
    let oldest = article(&page, &ids[1]);
    assert_eq!(detail(oldest, "Remembered"), "Yes");

    // She turns it off: the next request shows her the consent page.
    let client_id = between(&page.body, "action=\"/account/clients/", "/forget\"");
    let csrf = jane.csrf(&server, "/account/grants");
    let forget = format!("/account/clients/{client_id}/forget");
    assert_eq!(post_form(&mut jane, &server, &forget, None).status, 403);
    let done = post_form(&mut jane, &server, &forget, Some(&csrf));
    assert_eq!(done.location, Some(format!("/account/grants?forgot={client_id}")));
    let confirmed = jane.get(&server.url(done.location.as_deref().unwrap()));
    assert!(confirmed.body.contains("You turned off the remembered decision."), "{}", confirmed.body);
    assert!(!confirmed.body.contains("Forget this decision"));
    assert_eq!(post_form(&mut jane, &server, &forget, Some(&csrf)).status, 404, "nothing left to forget");
    let third = beppa.request_token("r-3");
    let asked = jane.get(&server.url(&format!("/oauth/authorize?oauth_token={}", third.0)));
    assert_eq!(asked.status, 200, "the consent page again");
    assert!(asked.body.contains("name=\"decision\""));
    let history = jane.get(&server.url(&format!("/account/grants/{}", ids[1])));
    assert!(history.body.contains("You turned off the remembered decision"), "{}", history.body);

    // Remembered again, then disconnected: every live grant revoked, nothing remembered.
    let verifier = jane.approve(&server, &third.0, &remembered);
    let third_access = beppa.exchange(&third, &verifier, "x-3");
    let done = post_form(&mut jane, &server, &format!("/account/clients/{client_id}/revoke"), Some(&csrf));
    assert_eq!(done.location, Some(format!("/account/grants?disconnected={client_id}")));
    let confirmed = jane.get(&server.url(done.location.as_deref().unwrap()));
    assert!(confirmed.body.contains("You disconnected Beppa Prints"), "{}", confirmed.body);
    assert!(!confirmed.body.contains("data-status=\"active\"") && !confirmed.body.contains("Remembered decision:"));
    for (access, nonce) in [(&access, "p-2"), (&third_access, "p-3")] {
        assert_eq!(beppa.photos(&server, access, nonce).status, 401);
    }
    let fourth = beppa.request_token("r-4");
    assert_eq!(jane.get(&server.url(&format!("/oauth/authorize?oauth_token={}", fourth.0))).status, 200);
}

async fn a_revocation_holds_in_every_process_on_the_database(database: TestDatabase) {
    let first = Server::start_with(&database.url, &["--demo"]);
    let mut second = first.beside();
    let beppa = beppa(&first);
    let mut jane = jane(&first);
    let request = beppa.request_token("r-1");
    let verifier = jane.approve(&first, &request.0, &[("photos", "islay-harbour")]);
    let access = beppa.exchange(&request, &verifier, "x-1");
    assert_eq!(beppa.photos(&second, &access, "p-1").status, 200);

    let page = jane.get(&first.url("/account/grants"));
    let id = grant_ids(&page).remove(0);
    let csrf = jane.csrf(&first, "/account/grants");
    // Two tabs revoke at once, one on each process: one revokes it, the other is told
    // it had already ended; neither fails.
    let revoke = format!("/account/grants/{id}/revoke");
    let mut other_tab = Browser::new();
    other_tab.cookies = jane.cookies.clone();
    let mut statuses = std::thread::scope(|scope| {
        let here = scope.spawn(|| post_form(&mut jane, &first, &revoke, Some(&csrf)).status);
        let there = scope.spawn(|| post_form(&mut other_tab, &second, &revoke, Some(&csrf)).status);
        [here.join().unwrap(), there.join().unwrap()]
    });
    statuses.sort_unstable();
    assert_eq!(statuses, [303, 409]);
    // The very next request, on the other process, is refused.
    let refused = beppa.photos(&second, &access, "p-2");
    assert_eq!(refused.status, 401, "{refused:?}");
    assert!(refused.www_authenticate.unwrap_or_default().contains("token_revoked"));

    // The one good request was counted by the second process, which writes its counts
    // (at the latest) as it stops; the first one's page then shows it.
    assert!(second.terminate().success());
    let page = jane.get(&first.url("/account/grants"));
    assert_eq!(detail(article(&page, &id), "Uses"), "1", "{}", page.body);
}

async fn jane_id(store: &EventStore) -> uuid::Uuid {
    grantlog_store::profiles::find_owner_by_username(store.reader(), "jane").await.unwrap().unwrap().owner_id
}

/// The text between the first `before` and the `after` that follows it.
fn between<'a>(text: &'a str, before: &str, after: &str) -> &'a str {
    let rest = &text[text.find(before).unwrap_or_else(|| panic!("{before}: {text}")) + before.len()..];
    &rest[..rest.find(after).unwrap()]
}

backend_tests!(
    jane_reviews_her_grant_reads_its_history_and_revokes_it,
    owners_see_only_their_own_grants_and_names_stay_text,
    a_remembered_decision_skips_the_prompt_until_she_turns_it_off,
    a_revocation_holds_in_every_process_on_the_database,
);
