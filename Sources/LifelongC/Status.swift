import CLifelong
import Errors
import Foundation

/// A failed C call: the status it returns and the message `lifelong_last_error()` gives.
struct CallFailure: Error {
    let status: lifelong_status
    let message: String

    static func invalidArgument(_ message: String) -> CallFailure {
        CallFailure(status: LIFELONG_INVALID_ARGUMENT, message: message)
    }
}

/// Runs one C call: its errors become a status and this thread's message, so nothing thrown crosses the
/// boundary.
@inline(__always)
func guarded(_ body: () throws -> Void) -> lifelong_status {
    do {
        try body()
        return LIFELONG_OK
    } catch {
        let failure = (error as? CallFailure) ?? CallFailure(status: status(of: error), message: "\(error)")
        setLastError(failure.message)
        return failure.status
    }
}

func setLastError(_ message: String) {
    var message = message
    message.withUTF8 {
        lifelong_set_last_error(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), $0.count)
    }
}

/// The status of an error from the layers below: its kind (every layer's error is a `LifelongError`);
/// Foundation's file errors by what they say; anything else is internal.
func status(of error: any Error) -> lifelong_status {
    switch error {
    case let e as any KindedError: return status(of: e.kind)
    case let e as CocoaError where e.isFileError:
        return e.code == .fileReadNoSuchFile || e.code == .fileNoSuchFile ? LIFELONG_NOT_FOUND : LIFELONG_IO_ERROR
    default: return LIFELONG_INTERNAL
    }
}

/// One status per kind: the C names of `ErrorKind`.
func status(of kind: ErrorKind) -> lifelong_status {
    switch kind {
    case .invalidArgument: LIFELONG_INVALID_ARGUMENT
    case .notFound: LIFELONG_NOT_FOUND
    case .modelMismatch: LIFELONG_MODEL_MISMATCH
    case .damaged: LIFELONG_DAMAGED
    case .io: LIFELONG_IO_ERROR
    case .input: LIFELONG_INPUT_ERROR
    case .internal: LIFELONG_INTERNAL
    }
}
