//! `GET /openapi.json`: the JSON APIs (admin, audit, `/oauth/verify`,
//! `/oauth/token_info`) described in OpenAPI 3.1, derived from the handlers'
//! annotations and the very types they answer with, so the document follows the code.
//! `tests/clients/python/openapi_check.py` checks real answers against it.

use std::sync::OnceLock;

use actix_web::HttpResponse;
use actix_web::http::header;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use super::error::{ErrorBody, TooMany};
use super::{MAX_BODY_BYTES, audit, lifecycle, oauth, operator};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "grantlog",
        description = "An OAuth 1.0a (RFC 5849) authorization server whose every grant is an event: the \
            operators' admin API, the auditors' API over the event log, and the JSON endpoints for clients \
            and resource servers. The OAuth endpoints themselves (/oauth/initiate, /oauth/token) answer \
            forms as RFC 5849 says; docs/protocol.md describes them."
    ),
    paths(
        operator::register_client,
        lifecycle::list_clients,
        lifecycle::show_client,
        lifecycle::update_client,
        lifecycle::rotate_secret,
        lifecycle::suspend_client,
        lifecycle::resume_client,
        lifecycle::deliveries,
        lifecycle::revoke_grant,
        operator::erase_owner,
        audit::events,
        audit::verify,
        audit::replay,
        audit::checkpoint,
        audit::inclusion,
        audit::consistency,
        audit::receipt,
        audit::export,
        oauth::verify,
        oauth::token_info,
    ),
    components(responses(TooMany)),
    modifiers(&Security),
    tags(
        (name = "admin", description = "The operators' API: `Authorization: Bearer <admin token>`."),
        (name = "audit", description = "The auditors' API: `Authorization: Bearer <auditor token>`, or the \
            auditor page's session cookie."),
        (name = "oauth", description = "For clients (signed with an access token) and resource servers."),
    )
)]
struct ApiDoc;

/// The security schemes, the 401 every admin and audit operation may answer, and the
/// 413 every operation with a body may.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some(description)).build(),
            )
        };
        components.add_security_scheme("admin", bearer("The admin token (serve --admin-token)."));
        components.add_security_scheme("auditor", bearer("The auditor token (serve --auditor-token)."));
        components.add_security_scheme(
            "auditor_session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "grantlog_auditor",
                "The session of an auditor signed in on /audit.",
            ))),
        );
        components.add_security_scheme(
            "oauth1",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "An RFC 5849 signature with the client's credentials and an access token: `OAuth \
                 oauth_consumer_key=…, oauth_token=…, oauth_signature=…` (or the same in the query or a form body).",
            ))),
        );
        let refused = ResponseBuilder::new()
            .description("No valid token for this API.")
            .header("WWW-Authenticate", HeaderBuilder::new().description(Some("Bearer realm=\"grantlog\"")).build())
            .content(
                "application/json",
                ContentBuilder::new().schema(Some(Ref::from_schema_name(ErrorBody::name()))).build(),
            )
            .build();
        let oversize = ResponseBuilder::new()
            .description(format!("The body is larger than the server takes ({} KiB).", MAX_BODY_BYTES / 1024))
            .content("text/plain", ContentBuilder::new().schema(Some(String::schema())).build())
            .build();
        for item in openapi.paths.paths.values_mut() {
            for operation in [&mut item.post, &mut item.patch].into_iter().flatten() {
                operation.responses.responses.insert("413".to_owned(), oversize.clone().into());
            }
            for operation in [&mut item.get, &mut item.post, &mut item.patch].into_iter().flatten() {
                if operation.tags.iter().flatten().any(|tag| tag == "admin" || tag == "audit") {
                    operation.responses.responses.insert("401".to_owned(), refused.clone().into());
                }
            }
        }
    }
}

/// The document, made once.
fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| ApiDoc::openapi().to_pretty_json().expect("the OpenAPI document serializes"))
}

/// `GET /openapi.json`.
pub(super) async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(document())
}
