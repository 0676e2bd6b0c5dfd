import Foundation

/// The files holding `data_location = EXTERNAL` tensor data, memory-mapped once each and shared by
/// every tensor of one model (a 7B model has hundreds of tensors in one `model.onnx.data`).
///
/// A class (reference) because `ONNXModel` is a value that tensors copy; `@unchecked Sendable`
/// because all state is behind `lock`.
public final class ONNXExternalFiles: @unchecked Sendable {
    /// The folder of the `.onnx` file; every `location` is resolved against it and must stay in it.
    public let directory: URL?
    private var mapped: [String: Data] = [:]
    private let lock = NSLock()

    public init(directory: URL?) {
        self.directory = directory?.standardizedFileURL
    }

    /// How many distinct files have been mapped (tests check that a file is never mapped twice).
    public var mappedFileCount: Int { lock.withLock { mapped.count } }

    /// The resolved URL of `location`, refusing absolute paths and any path leaving `directory`.
    func resolve(_ location: String, file: String, tensor: String) throws -> URL {
        let subject = "tensor '\(tensor)' external_data 'location'"
        guard let directory else {
            throw ModelFileError(.missing, file: file, subject: subject,
                                 "expected a model folder to resolve '\(location)', found a model not loaded from a file")
        }
        guard !location.isEmpty, !location.hasPrefix("/"), !location.contains("\0") else {
            throw ModelFileError(.malformed, file: file, subject: subject,
                                 "expected a relative path, found '\(location)'")
        }
        let resolved = directory.appendingPathComponent(location).standardizedFileURL.resolvingSymlinksInPath()
        let root = directory.resolvingSymlinksInPath().path
        let prefix = root.hasSuffix("/") ? root : root + "/"
        guard resolved.path.hasPrefix(prefix) else {
            throw ModelFileError(.outOfBounds, file: file, subject: subject,
                                 "expected a path inside \(root), found '\(location)' resolving to \(resolved.path)")
        }
        return resolved
    }

    /// The bytes [offset, offset+length) of `location`; the file is mapped on first use only.
    func bytes(location: String, offset: Int, length: Int, file: String, tensor: String) throws -> Data {
        let url = try resolve(location, file: file, tensor: tensor)
        let data: Data = try lock.withLock {
            if let cached = mapped[url.path] { return cached }
            let data: Data
            do {
                data = try mapFile(url, what: "external data file of tensor '\(tensor)'")
            } catch let error as ModelFileError {
                throw ModelFileError(error.kind, file: file, subject: "tensor '\(tensor)' external_data 'location'",
                                     "expected external file '\(location)', found: \(error.description)")
            }
            mapped[url.path] = data
            return data
        }
        let (end, overflow) = offset.addingReportingOverflow(length)
        guard offset >= 0, length >= 0, !overflow, end <= data.count else {
            throw ModelFileError(.outOfBounds, file: file, subject: "tensor '\(tensor)' external_data",
                                 "expected offset \(offset) + length \(length) within '\(location)' of \(data.count) bytes")
        }
        let start = data.startIndex + offset
        return data[start..<(start + length)]
    }
}
