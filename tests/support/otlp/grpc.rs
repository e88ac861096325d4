//! The gRPC receiver: tonic's server for the OTLP trace service, on its own runtime.
use super::{Kind, Received, Sink};
use opentelemetry::Context;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use std::sync::Arc;
use std::thread::JoinHandle;

struct Service {
    sink: Arc<Sink>,
    /// `GrpcRefusing`: an error status after recording the request; `GrpcPartial`: a partial
    /// success.
    kind: Kind,
}

#[tonic::async_trait]
impl TraceService for Service {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let headers = request
            .metadata()
            .clone()
            .into_headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        self.sink.record(Received {
            path: "/opentelemetry.proto.collector.trace.v1.TraceService/Export".into(),
            headers,
            request: request.into_inner(),
        });
        if self.kind == Kind::GrpcRefusing {
            // Not a status the specification retries: one attempt per request.
            return Err(tonic::Status::permission_denied(
                "refused by the test receiver",
            ));
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: (self.kind == Kind::GrpcPartial).then(super::one_rejected),
        }))
    }
}

pub(super) struct Server {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

impl Server {
    pub(super) fn start(listener: std::net::TcpListener, sink: Arc<Sink>, kind: Kind) -> Server {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let _quiet = Context::enter_telemetry_suppressed_scope();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .on_thread_start(|| std::mem::forget(Context::enter_telemetry_suppressed_scope()))
                .build()
                .unwrap();
            runtime.block_on(async move {
                listener.set_nonblocking(true).unwrap();
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
                let service = TraceServiceServer::new(Service { sink, kind })
                    .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
                let server = tonic::transport::Server::builder()
                    .add_service(service)
                    .serve_with_incoming(incoming);
                tokio::select! {
                    result = server => result.unwrap(),
                    _ = stopped => {}
                }
            });
            // Drops every connection at once, like a crashed process.
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
        });
        Server { stop, thread }
    }

    pub(super) fn stop(self) {
        let _ = self.stop.send(());
        self.thread.join().unwrap();
    }
}
