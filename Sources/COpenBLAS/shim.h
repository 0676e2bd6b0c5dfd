// Debian's libopenblas-dev (pthreads variant) installs OpenBLAS's cblas.h, which also declares
// openblas_set_num_threads / openblas_get_num_threads, into the multiarch include path.
#include <cblas.h>
