import CLifelong
import Foundation
import LMDB
import Model
import Offline
import Scorer
import Store
import Tensors

/// A failed C call: the status it returns and the message `lifelong_last_error()` gives.
struct CallFailure: Error {
    let status: Int32
    let message: String

    static func invalidArgument(_ message: String) -> CallFailure {
        CallFailure(status: Int32(LIFELONG_INVALID_ARGUMENT), message: message)
    }
}

/// Runs one C call: its errors become a status and this thread's message, so nothing thrown crosses the
/// boundary.
@inline(__always)
func guarded(_ body: () throws -> Void) -> Int32 {
    do {
        try body()
        return Int32(LIFELONG_OK)
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

/// The status of an error from the layers below, by what went wrong rather than where.
func status(of error: any Error) -> Int32 {
    let code: Int
    switch error {
    case let e as Scorer.ScoreError:
        switch e.kind {
        case .invalidArgument, .readOnly: code = LIFELONG_INVALID_ARGUMENT
        case .modelMismatch: code = LIFELONG_MODEL_MISMATCH
        case .store: code = LIFELONG_STORE_ERROR
        }
    case let e as BehaviorEncoder.EncodeError:
        switch e.kind {
        case .invalidInput, .configuration: code = LIFELONG_INVALID_ARGUMENT
        case .modelMismatch: code = LIFELONG_MODEL_MISMATCH
        case .store: code = LIFELONG_STORE_ERROR
        }
    case let e as ModelBundle.LoadError:
        code = e.kind == .missing ? LIFELONG_NOT_FOUND : LIFELONG_IO_ERROR
    case is Safetensors.FormatError:
        code = LIFELONG_IO_ERROR
    case let e as Store.StoreError:
        code = e.kind == .missing ? LIFELONG_NOT_FOUND : LIFELONG_STORE_ERROR
    case is UserRecord.DecodeError:
        code = LIFELONG_STORE_ERROR
    case let e as LMDBError:
        code = e.code == .noSuchFile ? LIFELONG_NOT_FOUND : LIFELONG_STORE_ERROR
    case let e as CocoaError where e.isFileError:
        code = e.code == .fileReadNoSuchFile || e.code == .fileNoSuchFile ? LIFELONG_NOT_FOUND : LIFELONG_IO_ERROR
    default:
        code = LIFELONG_INTERNAL
    }
    return Int32(code)
}
