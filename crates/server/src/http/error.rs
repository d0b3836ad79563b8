//! The one path from an error to a response. Every handler returns [`ApiError`]; each
//! surface's refusals are a variant of it (an OAuth problem, a page refusal, an
//! operator's problem, a rate limit) and its failures one more; one `ResponseError`
//! impl answers them all.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use grantlog_oauth1::ProtocolError;
use grantlog_store::{StoreError, is_unavailable};

use super::oauth::encode_form;
use super::page::html;
use super::{REALM, outcome};
use crate::pages;
use crate::services::ServiceError;
use crate::services::account::AccountError;
use crate::services::clients::LifecycleError;
use crate::services::oauth::RequestError;

/// How long a client waits before trying again while the database is unreachable.
const DATABASE_RETRY_AFTER_SECONDS: i64 = 1;

/// A failure's cause, kept for the log.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Every error a handler returns.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// An OAuth problem: 400 or 401 with Problem Reporting parameters.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// Too many requests of one kind from one client: 429 with `Retry-After`.
    #[error("{reason}")]
    TooMany {
        /// Seconds until it may try again.
        retry_after: i64,
        /// What it asked too often for, in words.
        reason: String,
    },
    /// A refusal on the owner's pages: a page saying what happened and that nothing
    /// changed.
    #[error("{title}")]
    Page {
        /// 404, 409, …
        status: StatusCode,
        /// The page's heading.
        title: &'static str,
        /// What happened, in words.
        text: &'static str,
    },
    /// A refusal on the operators' JSON APIs: `{"error": message}`; a 401 names the
    /// bearer scheme.
    #[error("{message}")]
    Operator {
        /// 400, 401, 409, …
        status: StatusCode,
        /// What was wrong with the request.
        message: String,
    },
    /// The database cannot be reached now: logged, answered 503 with `Retry-After`.
    #[error("the database is unavailable")]
    Unavailable(#[source] Cause),
    /// Our failure: logged with its cause, answered with a bare 500.
    #[error("internal error")]
    Internal(#[source] Cause),
}

impl ApiError {
    /// An operator's request refused with `status`.
    pub fn operator(status: StatusCode, message: impl Into<String>) -> Self {
        Self::Operator { status, message: message.into() }
    }

    /// Our failure, from any error; [`ApiError::Unavailable`] when the database could
    /// not be reached.
    pub fn failed(cause: impl Into<Cause>) -> Self {
        let cause = cause.into();
        if is_unavailable(cause.as_ref()) { Self::Unavailable(cause) } else { Self::Internal(cause) }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        Self::failed(error)
    }
}

/// An operator's change refused: what is not there is 404, what is not valid 400, what
/// does not apply now 409.
impl From<LifecycleError> for ApiError {
    fn from(error: LifecycleError) -> Self {
        let status = match &error {
            LifecycleError::UnknownClient | LifecycleError::UnknownGrant => StatusCode::NOT_FOUND,
            LifecycleError::Invalid(_) => StatusCode::BAD_REQUEST,
            LifecycleError::Conflict(_) => StatusCode::CONFLICT,
            LifecycleError::Busy => return Self::TooMany { retry_after: 1, reason: error.to_string() },
            LifecycleError::Failed(_) => return Self::failed(error),
        };
        outcome("operator_refused");
        Self::operator(status, error.to_string())
    }
}

/// A proof the tree cannot give is the auditor's question gone wrong; the rest fail.
impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Proof(_) | StoreError::PastTheTree { .. } => {
                Self::operator(StatusCode::BAD_REQUEST, error.to_string())
            }
            StoreError::Conflict { .. }
            | StoreError::UnsupportedUrl
            | StoreError::Corrupt(_)
            | StoreError::Tampered(_)
            | StoreError::Secrets(_)
            | StoreError::UsernameTaken
            | StoreError::Inline(_)
            | StoreError::Migrate(_)
            | StoreError::Database(_) => Self::failed(error),
        }
    }
}

impl From<RequestError> for ApiError {
    fn from(error: RequestError) -> Self {
        match error {
            RequestError::Refused(problem) => Self::Protocol(problem),
            too_many @ RequestError::TooMany { retry_after } => {
                Self::TooMany { retry_after, reason: too_many.to_string() }
            }
            RequestError::Failed(failure) => Self::failed(failure),
        }
    }
}

/// A grant or client that is not hers is answered as one that does not exist.
impl From<AccountError> for ApiError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::NotFound => {
                outcome("not_found");
                let text = "There is no such grant among yours. It may belong to someone else, or never have existed.";
                Self::Page { status: StatusCode::NOT_FOUND, title: "Not found", text }
            }
            AccountError::Ended => {
                outcome("already_ended");
                let text = "This grant had already ended, so there was nothing to revoke. Nothing changed.";
                Self::Page { status: StatusCode::CONFLICT, title: "Already ended", text }
            }
            AccountError::Failed(error) => Self::failed(error),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Protocol(problem) => StatusCode::from_u16(problem.status()).unwrap_or(StatusCode::BAD_REQUEST),
            Self::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Page { status, .. } | Self::Operator { status, .. } => *status,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Protocol(problem) => {
                let report = problem.report();
                let pairs: Vec<(&str, &str)> = report.iter().map(|(name, value)| (*name, value.as_str())).collect();
                let mut response = HttpResponse::build(self.status_code());
                if problem.status() == 401 {
                    response.insert_header((
                        header::WWW_AUTHENTICATE,
                        format!("OAuth realm=\"{REALM}\", oauth_problem=\"{}\"", problem.problem()),
                    ));
                }
                response.content_type("application/x-www-form-urlencoded").body(encode_form(&pairs))
            }
            Self::TooMany { retry_after, reason } => TooMany(format!("{reason}\n")).answer(*retry_after),
            Self::Page { status, title, text } => html(*status, pages::message(title, text)),
            Self::Operator { status, message } => {
                let mut response = HttpResponse::build(*status);
                if *status == StatusCode::UNAUTHORIZED {
                    response.insert_header((header::WWW_AUTHENTICATE, format!("Bearer realm=\"{REALM}\"")));
                }
                response.json(ErrorBody { error: message.clone() })
            }
            Self::Unavailable(cause) => {
                tracing::warn!(error = %cause, "the database is unavailable");
                let text = "the database is unavailable; try again in a moment\n";
                with_retry_after(
                    HttpResponse::ServiceUnavailable().content_type("text/plain").body(text),
                    DATABASE_RETRY_AFTER_SECONDS,
                )
            }
            Self::Internal(cause) => {
                tracing::error!(error = %cause, "request failed");
                HttpResponse::InternalServerError().content_type("text/plain").body("internal error\n")
            }
        }
    }
}

/// An operator's request refused: what was wrong with it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What was wrong, in words.
    pub error: String,
}

/// Too many requests at once, or too often: try again after `Retry-After` seconds.
#[derive(Debug, utoipa::ToResponse)]
#[response(content_type = "text/plain", headers(("Retry-After" = u32, description = "Seconds to wait.")))]
pub struct TooMany(String);

impl TooMany {
    /// This answer, to try again after `retry_after` seconds.
    fn answer(self, retry_after: i64) -> HttpResponse {
        with_retry_after(HttpResponse::TooManyRequests().content_type("text/plain").body(self.0), retry_after)
    }
}

/// An OAuth request refused (RFC 5849 section 3.2's Problem Reporting extension), as
/// `application/x-www-form-urlencoded`: a parameter that does not apply is left out.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct OAuthProblemBody {
    /// `signature_invalid`, `token_rejected`, `nonce_used`, …
    pub oauth_problem: String,
    /// The parameters missing, for `parameter_absent`.
    #[schema(nullable = false)]
    pub oauth_parameters_absent: Option<String>,
    /// The parameters refused, for `parameter_rejected`.
    #[schema(nullable = false)]
    pub oauth_parameters_rejected: Option<String>,
    /// The timestamps accepted (`from-to`), for `timestamp_refused`.
    #[schema(nullable = false)]
    pub oauth_acceptable_timestamps: Option<String>,
    /// The versions accepted, for `version_rejected`.
    #[schema(nullable = false)]
    pub oauth_acceptable_versions: Option<String>,
    /// What went wrong, in words.
    #[schema(nullable = false)]
    pub oauth_problem_advice: Option<String>,
}

/// `response` with `Retry-After: seconds`.
pub(super) fn with_retry_after(mut response: HttpResponse, seconds: i64) -> HttpResponse {
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}
