//! The browser client, built into the binary: a fixed table of files, so
//! nothing outside it can ever be served.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::error::ApiError;

/// (name, content type, bytes). The page is plain ES modules: `app.js` is the
/// entry and imports the others by relative name (`./api.js`), so every
/// module must be listed here (the tests below check each import is).
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("index.html", "text/html; charset=utf-8", include_bytes!("../../web/index.html")),
    ("style.css", "text/css; charset=utf-8", include_bytes!("../../web/style.css")),
    ("accounts.css", "text/css; charset=utf-8", include_bytes!("../../web/accounts.css")),
    ("admin.css", "text/css; charset=utf-8", include_bytes!("../../web/admin.css")),
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("../../web/app.js")),
    ("account.js", "text/javascript; charset=utf-8", include_bytes!("../../web/account.js")),
    ("admin.js", "text/javascript; charset=utf-8", include_bytes!("../../web/admin.js")),
    ("admin-branding.js", "text/javascript; charset=utf-8", include_bytes!("../../web/admin-branding.js")),
    ("admin-defaults.js", "text/javascript; charset=utf-8", include_bytes!("../../web/admin-defaults.js")),
    ("admin-keys.js", "text/javascript; charset=utf-8", include_bytes!("../../web/admin-keys.js")),
    ("admin-usage.js", "text/javascript; charset=utf-8", include_bytes!("../../web/admin-usage.js")),
    ("api.js", "text/javascript; charset=utf-8", include_bytes!("../../web/api.js")),
    ("audit-view.js", "text/javascript; charset=utf-8", include_bytes!("../../web/audit-view.js")),
    ("chart.js", "text/javascript; charset=utf-8", include_bytes!("../../web/chart.js")),
    ("citations.js", "text/javascript; charset=utf-8", include_bytes!("../../web/citations.js")),
    ("doc-chooser.js", "text/javascript; charset=utf-8", include_bytes!("../../web/doc-chooser.js")),
    ("doc-search.js", "text/javascript; charset=utf-8", include_bytes!("../../web/doc-search.js")),
    ("documents.js", "text/javascript; charset=utf-8", include_bytes!("../../web/documents.js")),
    ("expert-parts.js", "text/javascript; charset=utf-8", include_bytes!("../../web/expert-parts.js")),
    ("expert-view.js", "text/javascript; charset=utf-8", include_bytes!("../../web/expert-view.js")),
    ("experts.js", "text/javascript; charset=utf-8", include_bytes!("../../web/experts.js")),
    ("dom.js", "text/javascript; charset=utf-8", include_bytes!("../../web/dom.js")),
    ("feed.js", "text/javascript; charset=utf-8", include_bytes!("../../web/feed.js")),
    ("follow-up.js", "text/javascript; charset=utf-8", include_bytes!("../../web/follow-up.js")),
    ("format.js", "text/javascript; charset=utf-8", include_bytes!("../../web/format.js")),
    ("forms.js", "text/javascript; charset=utf-8", include_bytes!("../../web/forms.js")),
    ("fresh.js", "text/javascript; charset=utf-8", include_bytes!("../../web/fresh.js")),
    ("human-turn.js", "text/javascript; charset=utf-8", include_bytes!("../../web/human-turn.js")),
    ("invitations.js", "text/javascript; charset=utf-8", include_bytes!("../../web/invitations.js")),
    ("links.js", "text/javascript; charset=utf-8", include_bytes!("../../web/links.js")),
    ("list-view.js", "text/javascript; charset=utf-8", include_bytes!("../../web/list-view.js")),
    ("model.js", "text/javascript; charset=utf-8", include_bytes!("../../web/model.js")),
    ("moderation.js", "text/javascript; charset=utf-8", include_bytes!("../../web/moderation.js")),
    ("notifications.js", "text/javascript; charset=utf-8", include_bytes!("../../web/notifications.js")),
    ("outcome.js", "text/javascript; charset=utf-8", include_bytes!("../../web/outcome.js")),
    ("panel-view.js", "text/javascript; charset=utf-8", include_bytes!("../../web/panel-view.js")),
    ("panel-usage.js", "text/javascript; charset=utf-8", include_bytes!("../../web/panel-usage.js")),
    ("people.js", "text/javascript; charset=utf-8", include_bytes!("../../web/people.js")),
    ("presence.js", "text/javascript; charset=utf-8", include_bytes!("../../web/presence.js")),
    ("report-chart.js", "text/javascript; charset=utf-8", include_bytes!("../../web/report-chart.js")),
    ("report-view.js", "text/javascript; charset=utf-8", include_bytes!("../../web/report-view.js")),
    ("search-form.js", "text/javascript; charset=utf-8", include_bytes!("../../web/search-form.js")),
    ("session.js", "text/javascript; charset=utf-8", include_bytes!("../../web/session.js")),
    ("share.js", "text/javascript; charset=utf-8", include_bytes!("../../web/share.js")),
    ("shared-feed.js", "text/javascript; charset=utf-8", include_bytes!("../../web/shared-feed.js")),
    ("shared-view.js", "text/javascript; charset=utf-8", include_bytes!("../../web/shared-view.js")),
    ("sign-in.js", "text/javascript; charset=utf-8", include_bytes!("../../web/sign-in.js")),
    ("socket.js", "text/javascript; charset=utf-8", include_bytes!("../../web/socket.js")),
    ("state.js", "text/javascript; charset=utf-8", include_bytes!("../../web/state.js")),
    ("timeline.js", "text/javascript; charset=utf-8", include_bytes!("../../web/timeline.js")),
    ("usage-chart.js", "text/javascript; charset=utf-8", include_bytes!("../../web/usage-chart.js")),
    ("view.js", "text/javascript; charset=utf-8", include_bytes!("../../web/view.js")),
    ("webhook-endpoint.js", "text/javascript; charset=utf-8", include_bytes!("../../web/webhook-endpoint.js")),
    ("webhook-log.js", "text/javascript; charset=utf-8", include_bytes!("../../web/webhook-log.js")),
    ("webhook-parts.js", "text/javascript; charset=utf-8", include_bytes!("../../web/webhook-parts.js")),
    ("webhooks.js", "text/javascript; charset=utf-8", include_bytes!("../../web/webhooks.js")),
    ("why-chosen.js", "text/javascript; charset=utf-8", include_bytes!("../../web/why-chosen.js")),
];

fn serve(name: &str) -> Result<HttpResponse, ApiError> {
    let (_, content_type, bytes) = ASSETS.iter().find(|(n, _, _)| *n == name).ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, *content_type))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' https: data:; style-src 'self'; script-src 'self'"))
        .body(*bytes))
}

pub async fn index() -> Result<HttpResponse, ApiError> {
    serve("index.html")
}

pub async fn asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    serve(file.as_str())
}

#[cfg(test)]
mod tests {
    use super::ASSETS;

    fn served(name: &str) -> bool {
        ASSETS.iter().any(|(n, _, _)| *n == name)
    }

    /// The files a script names by relative specifier: `from './x.js'`,
    /// `import './x.js'` and `import('./x.js')`, either quote.
    fn relative_imports(source: &str) -> Vec<&str> {
        let mut names = Vec::new();
        for quote in ['\'', '"'] {
            for lead in ["from ", "import ", "import("] {
                let pattern = format!("{lead}{quote}./");
                let mut rest = source;
                while let Some(at) = rest.find(&pattern) {
                    let after = &rest[at + pattern.len()..];
                    let end = after.find(quote).unwrap_or(after.len());
                    names.push(&after[..end]);
                    rest = &after[end..];
                }
            }
        }
        names
    }

    #[test]
    fn the_scan_finds_every_form_of_import() {
        let source = "import { a } from './a.js';\nimport \"./b.js\";\nconst c = import('./c.js');\nimport { d } from '../d.js';";
        let mut found = relative_imports(source);
        found.sort();
        assert_eq!(found, ["a.js", "b.js", "c.js"]);
    }

    #[test]
    fn every_imported_module_is_in_the_table() {
        let mut imports = 0;
        for (name, content_type, bytes) in ASSETS {
            if !name.ends_with(".js") {
                continue;
            }
            assert_eq!(*content_type, "text/javascript; charset=utf-8", "{name}: a module is served as JavaScript");
            let source = std::str::from_utf8(bytes).unwrap_or_else(|e| panic!("{name} is not UTF-8: {e}"));
            for import in relative_imports(source) {
                assert!(
                    !import.contains('/'),
                    "{name} imports './{import}': assets are flat names (web/NAME), one path segment"
                );
                assert!(
                    served(import),
                    "{name} imports './{import}', which is not in ASSETS (src/routes/web.rs): the browser would get a 404"
                );
                imports += 1;
            }
        }
        assert!(imports > 0, "no module imports another: the scan is broken");
    }

    #[test]
    fn the_page_loads_only_served_files() {
        let (_, _, bytes) = ASSETS.iter().find(|(n, _, _)| *n == "index.html").expect("index.html is served");
        let html = std::str::from_utf8(bytes).expect("index.html is UTF-8");
        let mut loaded = 0;
        for part in html.split("\"/assets/").skip(1) {
            let file = &part[..part.find('"').expect("a closing quote")];
            assert!(served(file), "index.html loads /assets/{file}, which is not in ASSETS");
            loaded += 1;
        }
        assert!(loaded >= 2, "index.html loads the stylesheet and the entry module");
    }
}
