/* ebm_status.h — status codes and logging for libebm.
 *
 * Public functions return ebm_status_t (or NULL with the status kept on the context).
 * The library never calls exit(); internal invariants are checked with EBM_ASSERT.
 *
 *   ebm_log_set(my_logger, NULL);            // route messages to your own sink
 *   if (st != EBM_OK) fprintf(stderr, "%s\n", ebm_status_str(st));
 */
#ifndef EBM_STATUS_H
#define EBM_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ebm_status {
    EBM_OK = 0,
    EBM_STATUS_INVALID_ARGUMENT,  /* bad value passed by the caller */
    EBM_STATUS_SHAPE,             /* tensor shapes do not fit the operation */
    EBM_STATUS_NO_DEVICE,         /* no OpenCL device matches the selection */
    EBM_STATUS_OPENCL,            /* an OpenCL call failed (message names the error) */
    EBM_STATUS_BUILD,             /* a kernel program failed to compile (log printed) */
    EBM_STATUS_OUT_OF_MEMORY,     /* host or device allocation failed */
    EBM_STATUS_BLAS,              /* an OpenCL library (CLBlast, clFFT) returned an error */
    EBM_STATUS_IO,                /* a file could not be read or written */
    EBM_STATUS_FORMAT,            /* a file is corrupt or of the wrong format */
    EBM_STATUS_NOT_IMPLEMENTED,   /* e.g. a derivative order beyond what an op provides */
    EBM_STATUS_NUMERIC,           /* NaN/Inf where finite numbers were required */
    EBM_STATUS_COUNT
} ebm_status_t;

typedef enum ebm_log_level {
    EBM_LOG_DEBUG = 0,
    EBM_LOG_INFO,
    EBM_LOG_WARN,
    EBM_LOG_ERROR
} ebm_log_level_t;

typedef void (*ebm_log_fn)(ebm_log_level_t level, const char *msg, void *user);

const char *ebm_status_str(ebm_status_t st);
/* Install a log sink (NULL restores the default: WARN and ERROR to stderr). */
void ebm_log_set(ebm_log_fn fn, void *user);
void ebm_log_message(ebm_log_level_t level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#ifdef __cplusplus
}
#endif
#endif
