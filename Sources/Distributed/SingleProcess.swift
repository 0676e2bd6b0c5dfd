/// A job of one process: every collective is the identity. Used when treerpo runs outside
/// `mpirun`, or was built without MPI.
public final class SingleProcess: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allGather(_ bytes: [UInt8]) throws -> [[UInt8]] { [bytes] }
    public func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) throws {}
    public func sumInRankOrder(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {}
    public func sumWithLibraryAllReduce(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {}
    public var traffic: Traffic { Traffic() }
    public func abort(status: Int32) -> Never { exit(status) }
    public func finish() {}
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
