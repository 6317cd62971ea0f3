import CoreMetrics
import Prometheus
import Synchronization

/// The service's metrics (swift-metrics handles, exported by swift-prometheus at `GET /metrics`); every name
/// is listed in docs/SERVING.md, "Metrics".
final class ServiceMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let models = Mutex<[String: CoreMetrics.Gauge]>([:])

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(3),
            .milliseconds(5), .milliseconds(7), .milliseconds(10), .milliseconds(20), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .seconds(1),
        ]
        self.factory = factory
        queueDepth = CoreMetrics.Gauge(label: "lifelong_queue_depth", factory: factory)
        inFlight = CoreMetrics.Meter(label: "lifelong_in_flight", factory: factory)
        appendedEvents = CoreMetrics.Counter(label: "lifelong_appended_events_total", factory: factory)
        refusedEvents = CoreMetrics.Counter(label: "lifelong_refused_events_total", factory: factory)
        dropped = Dictionary(
            uniqueKeysWithValues: ScoringPool.Drop.allCases.map {
                (
                    $0,
                    CoreMetrics.Counter(
                        label: "lifelong_dropped_requests_total", dimensions: [("reason", $0.rawValue)],
                        factory: factory)
                )
            })
        runs = [false, true].map { gone in
            let caller = [("caller", gone ? "gone" : "waiting")]
            return (
                CoreMetrics.Counter(label: "lifelong_scoring_runs_total", dimensions: caller, factory: factory),
                CoreMetrics.FloatingPointCounter(
                    label: "lifelong_scoring_seconds_total", dimensions: caller, factory: factory)
            )
        }
    }

    private let queueDepth: CoreMetrics.Gauge
    private let inFlight: CoreMetrics.Meter
    private let appendedEvents: CoreMetrics.Counter
    private let refusedEvents: CoreMetrics.Counter
    private let dropped: [ScoringPool.Drop: CoreMetrics.Counter]
    /// Requests run by the scoring threads and their seconds, for a caller still waiting ([0]) or gone ([1]).
    private let runs: [(count: CoreMetrics.Counter, seconds: CoreMetrics.FloatingPointCounter)]

    /// What the scoring pool did: a request run (and whether its caller still waited), or one dropped unrun.
    func pool(_ event: ScoringPool.Event) {
        switch event {
        case .ran(let seconds, let gone):
            runs[gone ? 1 : 0].count.increment()
            runs[gone ? 1 : 0].seconds.increment(by: seconds)
        case .dropped(let reason): dropped[reason]?.increment()
        }
    }

    /// A score request handed to the pool, and its end.
    func started() { inFlight.increment() }
    func finished() { inFlight.decrement() }

    /// Events of a committed append: written, and refused alone.
    func appended(_ written: Int, refused: Int) {
        appendedEvents.increment(by: Int64(written))
        refusedEvents.increment(by: Int64(refused))
    }

    /// The scoring queue's depth, sampled when the metrics are read.
    func queue(depth: Int) { queueDepth.record(depth) }

    /// One finished request: its count by method, protocol, mode and status, and its latency.
    func request(method: String, transport: String, mode: String, status: String, duration seconds: Duration) {
        let labels = [("method", method), ("transport", transport), ("mode", mode), ("status", status)]
        CoreMetrics.Counter(label: "lifelong_requests_total", dimensions: labels, factory: factory).increment()
        if status == "ok" {
            CoreMetrics.Timer(
                label: "lifelong_request_duration_seconds",
                dimensions: [("method", method), ("transport", transport), ("mode", mode)], factory: factory
            ).recordNanoseconds(
                seconds.components.seconds * 1_000_000_000 + seconds.components.attoseconds / 1_000_000_000)
        }
    }

    /// A reload attempt and how it ended ("ok" or "failed").
    func reload(_ outcome: String) {
        CoreMetrics.Counter(label: "lifelong_reloads_total", dimensions: [("outcome", outcome)], factory: factory)
            .increment()
    }

    /// `lifelong_model_info{fingerprint}` is 1 for the serving model, 0 for the ones before it.
    func serving(fingerprint: String) {
        models.withLock { gauges in
            for (key, gauge) in gauges where key != fingerprint { gauge.record(0) }
            let gauge =
                gauges[fingerprint]
                ?? CoreMetrics.Gauge(
                    label: "lifelong_model_info", dimensions: [("fingerprint", fingerprint)], factory: factory)
            gauges[fingerprint] = gauge
            gauge.record(1)
        }
    }

    /// The Prometheus text format of every metric.
    func exposition() -> [UInt8] { registry.emitToBuffer() }
}
