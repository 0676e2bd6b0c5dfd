import Foundation

/// A tokenizer file that cannot be used: which file, which JSON field, what was expected, what was found.
public struct TokenizerError: Error, CustomStringConvertible, Equatable, Sendable {
    public var file: String
    /// JSON path such as `model.merges[12]` or `pre_tokenizer.pretokenizers[0].type`; `(root)` for the whole file.
    public var field: String
    public var expected: String
    public var found: String

    public init(file: String, field: String, expected: String, found: String) {
        self.file = file
        self.field = field
        self.expected = expected
        self.found = found
    }

    public var description: String {
        "\(file): field `\(field)`: expected \(expected), found \(found)"
    }
}

/// Thrown while decoding or building; `Tokenizer` adds the file name and turns it into a `TokenizerError`.
struct FieldError: Error {
    var field: String
    var expected: String
    var found: String

    init(_ path: [CodingKey], expected: String, found: String) {
        self.field = jsonPath(path)
        self.expected = expected
        self.found = found
    }

    init(field: String, expected: String, found: String) {
        self.field = field
        self.expected = expected
        self.found = found
    }
}

/// `[model, merges, 3]` -> `model.merges[3]`.
func jsonPath(_ path: [CodingKey]) -> String {
    var out = ""
    for key in path {
        if let index = key.intValue {
            out += "[\(index)]"
        } else {
            out += out.isEmpty ? key.stringValue : ".\(key.stringValue)"
        }
    }
    return out.isEmpty ? "(root)" : out
}

/// A coding key built from a string, to name a field in an error path.
struct NamedKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

extension TokenizerError {
    /// Maps anything thrown while loading to one error naming the file and the field.
    static func wrap(_ error: Error, file: String) -> TokenizerError {
        switch error {
        case let e as TokenizerError:
            return e
        case let e as FieldError:
            return TokenizerError(file: file, field: e.field, expected: e.expected, found: e.found)
        case let DecodingError.typeMismatch(type, context):
            return TokenizerError(file: file, field: jsonPath(context.codingPath),
                                  expected: "a value of type \(type)", found: context.debugDescription)
        case let DecodingError.valueNotFound(type, context):
            return TokenizerError(file: file, field: jsonPath(context.codingPath),
                                  expected: "a value of type \(type)", found: "null")
        case let DecodingError.keyNotFound(key, context):
            return TokenizerError(file: file, field: jsonPath(context.codingPath + [key]),
                                  expected: "the field to be present", found: "it missing")
        case let DecodingError.dataCorrupted(context):
            let underlying = context.underlyingError.map { " (\($0))" } ?? ""
            if context.codingPath.isEmpty {
                return TokenizerError(file: file, field: "(root)", expected: "valid JSON",
                                      found: "malformed data: \(context.debugDescription)\(underlying)")
            }
            return TokenizerError(file: file, field: jsonPath(context.codingPath),
                                  expected: "valid data", found: "\(context.debugDescription)\(underlying)")
        default:
            return TokenizerError(file: file, field: "(root)", expected: "a readable tokenizer file",
                                  found: "\(error)")
        }
    }
}
