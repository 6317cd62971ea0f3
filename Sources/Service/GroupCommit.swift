import Scorer

extension GroupCommit {
    /// The statuses of `events`, in order, once they are committed (`GroupCommit.submit`): for a request's
    /// task. A store failure throws for every caller of that group, and none of the group's events is written.
    func append(_ events: [Scorer.Event]) async throws -> [Scorer.EventStatus] {
        guard !events.isEmpty else { return [] }
        return try await withCheckedThrowingContinuation { reply in
            let accepted = submit(events) { result in
                reply.resume(with: result.mapError { ServiceError(from: $0) as any Error })
            }
            if !accepted { reply.resume(throwing: ServiceError(.unavailable, "the service is shutting down")) }
        }
    }
}
