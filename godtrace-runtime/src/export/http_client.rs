//! The HTTP client of the OTLP/HTTP exporter: reqwest's async client, run by the export
//! thread's runtime, always the one used whatever HTTP client features of opentelemetry-otlp
//! other crates turn on. It sets the configured headers last, so they win over any the
//! exporter read from the environment.
use crate::config::ExportSettings;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};

#[derive(Debug)]
pub(crate) struct HeaderClient {
    inner: reqwest::Client,
    headers: http::HeaderMap,
}

impl HeaderClient {
    pub(crate) fn new(settings: &ExportSettings) -> Result<Self, String> {
        let mut headers = http::HeaderMap::new();
        for (name, value) in &settings.headers {
            let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
            let value = http::HeaderValue::from_str(value).map_err(|e| e.to_string())?;
            headers.insert(name, value);
        }
        let inner = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .build()
            .map_err(|e| format!("could not build the HTTP client: {e}"))?;
        Ok(HeaderClient { inner, headers })
    }
}

#[async_trait::async_trait]
impl HttpClient for HeaderClient {
    async fn send_bytes(&self, mut request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        for (name, value) in &self.headers {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        self.inner.send_bytes(request).await
    }
}
