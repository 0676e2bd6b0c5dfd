import Foundation
import SwiftProtobuf

/// An underlying error (a JSON or protobuf decoder's, Foundation's) in words a user can act on,
/// for the "found: ..." part of a file error: never a Swift type or case name, never an error
/// domain and number.
public enum PlainErrorText {
    public static func describe(_ error: Error) -> String {
        switch error {
        case let e as DecodingError: return describe(e)
        case let e as BinaryDecodingError: return describe(e)
        case let e as CocoaError: return describe(e)
        case let e as ModelFileError: return e.description
        default:
            let text = "\(error)"
            return text
        }
    }

    static func path(_ codingPath: [CodingKey]) -> String {
        codingPath.isEmpty ? "(root)" : codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            .joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
    }

    static func describe(_ e: DecodingError) -> String {
        switch e {
        case .dataCorrupted(let context):
            // JSONSerialization's own detail ("Unexpected character 'x' around line 1, column 5.").
            let detail = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            let place = context.codingPath.isEmpty ? "" : " at \(path(context.codingPath))"
            return "text that is not valid JSON\(place)" + (detail.map { " (\($0))" } ?? "")
        case .keyNotFound(let key, let context):
            return "no field '\(path(context.codingPath + [key]))'"
        case .typeMismatch(let type, let context):
            return "a value of another kind than the \(kind(type)) expected at \(path(context.codingPath))"
        case .valueNotFound(let type, let context):
            return "null where a \(kind(type)) is expected at \(path(context.codingPath))"
        @unknown default:
            return "text that does not have the expected JSON structure"
        }
    }

    static func kind(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "string"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt64.Type: return "integer"
        case is Double.Type, is Float.Type: return "number"
        case is Bool.Type: return "true/false value"
        default:
            let name = "\(type)"
            if name.hasPrefix("Array") || name.hasPrefix("[") { return "list" }
            if name.hasPrefix("Dictionary") || name.hasPrefix("[String") { return "object" }
            return "value"
        }
    }

    static func describe(_ e: BinaryDecodingError) -> String {
        switch e {
        case .truncated: return "a protobuf message cut short (the file ends inside a field)"
        case .malformedProtobuf: return "bytes that are not a valid protobuf message (a field's tag, length or wire type is wrong)"
        case .invalidUTF8: return "a protobuf string field that is not UTF-8"
        case .messageDepthLimit: return "protobuf messages nested deeper than the decoder's limit"
        default: return "bytes that are not a valid protobuf message"
        }
    }

    static func describe(_ e: CocoaError) -> String {
        let file = e.filePath ?? e.url?.path ?? "the file"
        var reason = ""
        if let underlying = e.underlying as NSError?, underlying.domain == NSPOSIXErrorDomain {
            reason = ": " + String(cString: strerror(Int32(underlying.code)))
        }
        switch e.code {
        case .fileReadNoSuchFile, .fileNoSuchFile: return "\(file) does not exist"
        case .fileReadNoPermission, .fileWriteNoPermission: return "\(file): permission denied"
        case .fileWriteOutOfSpace: return "\(file): no space left on the device"
        case .fileWriteFileExists: return "\(file) already exists"
        case .fileReadTooLarge: return "\(file) is too large to read"
        case .fileReadInapplicableStringEncoding: return "\(file) is not UTF-8 text"
        default:
            let writing = e.code.rawValue >= 512 && e.code.rawValue < 1024
            return "\(writing ? "cannot write" : "cannot read") \(file)\(reason)"
        }
    }
}
