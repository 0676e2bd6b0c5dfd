// Open MPI (Debian's libopenmpi-dev, found by pkg-config as ompi-c). Its handles are macros that
// take the address of a library global (MPI_COMM_WORLD is &ompi_mpi_comm_world), which Swift
// cannot import; these functions return them.
#include <mpi.h>

static inline MPI_Comm treerpo_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype treerpo_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype treerpo_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype treerpo_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Op treerpo_mpi_sum(void) { return MPI_SUM; }
static inline void *treerpo_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Request treerpo_mpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Status *treerpo_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline int treerpo_mpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
