//! The login throttle served over HTTP, SQLite and PostgreSQL, as a guesser would try
//! it: guesses sent all at once, from one address that others share, through a proxy,
//! with a forged `X-Forwarded-For`, with names too long or holding a NUL.

use crate::support::Server;
use crate::support::browser::{Browser, Page, hidden};
use grantlog_store::testing::TestDatabase;
use grantlog_store::{ConnectOptions, EventStore, backend_tests};
use sqlx::Row as _;

const GUESSES: usize = 40;

/// One login form's cookie and CSRF token, and a post of it with these credentials.
fn login_form(browser: &mut Browser, server: &Server) -> String {
    let form = browser.get(&server.url("/login"));
    assert_eq!(form.status, 200, "{}", form.body);
    hidden(&form.body, "csrf_token")
}

fn attempt(browser: &mut Browser, server: &Server, username: &str, password: &str) -> Page {
    let csrf = login_form(browser, server);
    browser.submit(&server.url("/login"), &[("csrf_token", &csrf), ("username", username), ("password", password)])
}

fn retry_after(page: &Page) -> u64 {
    let value = page.header("retry-after").unwrap_or_else(|| panic!("{} without Retry-After", page.status));
    let seconds: u64 = value.parse().unwrap();
    assert!((1..=900).contains(&seconds), "Retry-After: {seconds}");
    seconds
}

async fn guesses_sent_at_once_get_at_most_the_limit_checked(database: TestDatabase) {
    let server = Server::start_with(&database.url, &["--demo"]);
    server.add_owner("bob", "bob-has-a-long-password");
    let mut mallory = Browser::new();
    let csrf = login_form(&mut mallory, &server);
    let url = server.url("/login");
    let statuses: Vec<Page> = std::thread::scope(|scope| {
        let guesses: Vec<_> = (0..GUESSES)
            .map(|n| {
                let (cookies, csrf, url) = (mallory.cookies.clone(), csrf.clone(), url.clone());
                scope.spawn(move || {
                    let mut browser = Browser::new();
                    browser.cookies = cookies;
                    let guess = format!("guess-{n}");
                    browser.submit(&url, &[("csrf_token", &csrf), ("username", "jane"), ("password", &guess)])
                })
            })
            .collect();
        guesses.into_iter().map(|guess| guess.join().unwrap()).collect()
    });
    let checked = statuses.iter().filter(|page| page.status == 401).count();
    assert!((1..=5).contains(&checked), "{checked} guesses were checked, the limit is 5");
    for page in statuses.iter().filter(|page| page.status != 401) {
        assert!(matches!(page.status, 429 | 503), "{}: {}", page.status, page.body);
        retry_after(page);
    }
    // Guesses turned away unchecked (503: every password check busy) were not counted:
    // one at a time, the guesser gets exactly the rest of the five.
    let mut checked = checked;
    while checked < 5 {
        assert_eq!(attempt(&mut Browser::new(), &server, "jane", "one-more-guess").status, 401);
        checked += 1;
    }
    // Jane herself, from the guesser's address, waits with the guesser…
    let throttled = attempt(&mut Browser::new(), &server, "jane", "islay-scotch");
    assert_eq!(throttled.status, 429);
    assert!(retry_after(&throttled) > 800, "the window began with the guesses");
    // …but the address is not locked for everyone: another account logs in from it.
    let bob = attempt(&mut Browser::new(), &server, "bob", "bob-has-a-long-password");
    assert_eq!((bob.status, bob.location.as_deref()), (303, Some("/account/grants")), "{}", bob.body);
}

fn from(address: &str) -> Browser {
    let mut browser = Browser::new();
    browser.extra_headers.push(("X-Forwarded-For", address.to_owned()));
    browser
}

async fn forwarded_addresses_count_apart_only_behind_a_trusted_proxy(database: TestDatabase) {
    let behind_proxy = Server::start_with(&database.url, &["--demo", "--trusted-proxy", "127.0.0.0/8"]);
    for guess in 0..5 {
        assert_eq!(attempt(&mut from("203.0.113.1"), &behind_proxy, "jane", &format!("guess-{guess}")).status, 401);
    }
    assert_eq!(attempt(&mut from("203.0.113.1"), &behind_proxy, "jane", "islay-scotch").status, 429);
    // The proxy writes X-Forwarded-For and passes a client's own Forwarded through: not
    // read, so it cannot buy a fresh count.
    let mut disguised = from("203.0.113.1");
    disguised.extra_headers.push(("Forwarded", "for=198.51.100.200".to_owned()));
    assert_eq!(attempt(&mut disguised, &behind_proxy, "jane", "islay-scotch").status, 429);
    // Another visitor behind the same proxy is counted apart.
    assert_eq!(attempt(&mut from("203.0.113.2"), &behind_proxy, "jane", "wrong").status, 401);
    let jane = attempt(&mut from("203.0.113.2"), &behind_proxy, "jane", "islay-scotch");
    assert_eq!(jane.status, 303, "{}", jane.body);

    // Without --trusted-proxy the header is the client's own words: ignored.
    let direct = behind_proxy.beside();
    for guess in 0..5 {
        assert_eq!(attempt(&mut from(&format!("198.51.100.{guess}")), &direct, "jane", "wrong").status, 401);
    }
    let forged = attempt(&mut from("198.51.100.77"), &direct, "jane", "islay-scotch");
    assert_eq!(forged.status, 429, "a made-up X-Forwarded-For dodged the throttle");
}

async fn unusable_usernames_are_refused_before_anything_is_stored(database: TestDatabase) {
    let server = Server::start_with(&database.url, &["--demo"]);
    for username in ["j".repeat(65), "ja\0ne".to_owned(), "jane\n".to_owned(), String::new()] {
        let page = attempt(&mut Browser::new(), &server, &username, "islay-scotch");
        assert_eq!(page.status, 400, "{username:?}: {}", page.body);
        assert!(page.body.contains("A username is 1 to 64 printable characters."), "{username:?}");
    }
    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    let counters = sqlx::query("SELECT COUNT(*) AS n FROM login_failures").fetch_one(store.reader()).await.unwrap();
    assert_eq!(counters.try_get::<i64, _>("n").unwrap(), 0, "nothing counted for a name that names no one");
    let longest = "j".repeat(64);
    assert_eq!(attempt(&mut Browser::new(), &server, &longest, "islay-scotch").status, 401, "64 bytes is a name");
}

backend_tests!(
    guesses_sent_at_once_get_at_most_the_limit_checked,
    forwarded_addresses_count_apart_only_behind_a_trusted_proxy,
    unusable_usernames_are_refused_before_anything_is_stored,
);
