/// Typed, null-tolerant field access for `HFConfig`: a missing or null field is nil, a field of
/// the wrong type is an error naming the file and the field.
struct HFConfigReader {
    let object: [String: JSONValue]
    let file: String

    private func first(_ keys: [String]) -> (String, JSONValue)? {
        for key in keys {
            if let value = object[key], !value.isNull { return (key, value) }
        }
        return nil
    }

    private func fail(_ key: String, _ expected: String, _ value: JSONValue) -> ModelFileError {
        ModelFileError(.malformed, file: file, subject: "field '\(key)'", "expected \(expected), found \(value)")
    }

    func int(_ keys: [String]) throws -> Int? {
        guard let (key, value) = first(keys) else { return nil }
        guard let v = value.intValue, let i = Int(exactly: v) else { throw fail(key, "an integer", value) }
        return i
    }

    func double(_ keys: [String]) throws -> Double? {
        guard let (key, value) = first(keys) else { return nil }
        guard let v = value.doubleValue else { throw fail(key, "a number", value) }
        return v
    }

    func string(_ keys: [String]) throws -> String? {
        guard let (key, value) = first(keys) else { return nil }
        guard let v = value.stringValue else { throw fail(key, "a string", value) }
        return v
    }

    func bool(_ key: String) throws -> Bool? {
        guard let (key, value) = first([key]) else { return nil }
        guard let v = value.boolValue else { throw fail(key, "true or false", value) }
        return v
    }

    func object(_ key: String) throws -> [String: JSONValue]? {
        guard let (key, value) = first([key]) else { return nil }
        guard let v = value.objectValue else { throw fail(key, "an object", value) }
        return v
    }

    func strings(_ key: String) throws -> [String]? {
        guard let (key, value) = first([key]) else { return nil }
        guard let items = value.arrayValue else { throw fail(key, "a list of strings", value) }
        return try items.map { item in
            guard let s = item.stringValue else { throw fail(key, "a list of strings", value) }
            return s
        }
    }

    /// An integer or a list of integers (`eos_token_id` is either), as a list.
    func intOrInts(_ key: String) throws -> [Int]? {
        guard let (key, value) = first([key]) else { return nil }
        if let v = value.intValue, let i = Int(exactly: v) { return [i] }
        guard let items = value.arrayValue else { throw fail(key, "an integer or a list of integers", value) }
        return try items.map { item in
            guard let v = item.intValue, let i = Int(exactly: v) else {
                throw fail(key, "an integer or a list of integers", value)
            }
            return i
        }
    }
}
