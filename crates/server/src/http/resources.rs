//! The protected resources: the photos an access token's grant covers.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use grantlog_domain::Permission;
use grantlog_oauth1::encoding::percent_encode;

use super::oauth::incoming;
use super::{ApiError, AppState, outcome};
use crate::services::signed::Access;

/// A request for photos: signed with an access token whose grant reads photos now.
pub(super) async fn photo_access(request: &HttpRequest, state: &AppState) -> Result<Access, ApiError> {
    let url = state.signed_url(request);
    let incoming = incoming(request, &url, &[]);
    Ok(state.services.access(&incoming, Some(Permission::PhotosRead), Utc::now(), state.checks).await?)
}

/// `GET /api/photos`: the photos the access token's grant covers.
pub(super) async fn photos(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let access = photo_access(&request, &state).await?;
    outcome("access_granted");
    let owned = state.services.photos(access.grant.owner_id.uuid()).await.map_err(ApiError::from)?;
    let listed: Vec<serde_json::Value> = owned
        .iter()
        .filter(|photo| access.grant.covers(&photo.photo_id))
        .map(|photo| {
            serde_json::json!({
                "id": photo.photo_id,
                "title": photo.title,
                "content_type": photo.content_type,
                "url": format!("/api/photos/{}", percent_encode(&photo.photo_id)),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(listed))
}

/// `GET /api/photos/{id}`: one covered photo's bytes. A photo the grant does not
/// cover is answered exactly like one that does not exist.
pub(super) async fn photo(
    request: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let access = photo_access(&request, &state).await?;
    outcome("access_granted");
    Ok(match state.services.covered_photo(&access, &id).await? {
        Some((content_type, bytes)) => HttpResponse::Ok().content_type(content_type).body(bytes),
        None => HttpResponse::NotFound().content_type("text/plain").body("no such photo\n"),
    })
}
