//! An in-process OTLP/gRPC metrics receiver (tonic's generated server, which decodes every
//! request) that keeps what it receives.
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::MetricsService;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use std::sync::{Arc, Mutex};

/// Every request received, in order.
pub type MetricsLog = Arc<Mutex<Vec<ExportMetricsServiceRequest>>>;

/// Answers every export with success and keeps the request in its log.
pub struct MetricsReceiver(pub MetricsLog);

#[tonic::async_trait]
impl MetricsService for MetricsReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.0.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}
