/* NTSTATUS values used by the vmbsave ABI.
 *
 * Values are the exact Windows ones (ntstatus.h), so statuses seen through vmbsave mean what
 * they mean in a real KMCL driver. Only the values the contract (docs/SPEC.md) uses are here. */
#ifndef VMBSAVE_NTSTATUS_H
#define VMBSAVE_NTSTATUS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef VMBSAVE_HAVE_NTSTATUS
#define VMBSAVE_HAVE_NTSTATUS 1
typedef int32_t NTSTATUS;
#endif

/* Error-severity values do not fit int32_t; converting them is implementation-defined in C11
 * (6.3.1.3) and two's-complement wrap-around on every compiler vmbsave supports. */
#define VMBSAVE_NTSTATUS_VALUE(v) ((NTSTATUS)(int32_t)(uint32_t)(v))

#ifndef NT_SUCCESS
/* BUFFER_OVERFLOW and MORE_PROCESSING_REQUIRED are NOT successes by this test (clause
 * STATUS.NT_SUCCESS.TRAP): callers must look for them before testing NT_SUCCESS. */
#define NT_SUCCESS(s) (((NTSTATUS)(s)) >= 0)
#endif

#define STATUS_SUCCESS                  VMBSAVE_NTSTATUS_VALUE(0x00000000u)
#define STATUS_BUFFER_OVERFLOW          VMBSAVE_NTSTATUS_VALUE(0x80000005u)
#define STATUS_UNSUCCESSFUL             VMBSAVE_NTSTATUS_VALUE(0xC0000001u)
#define STATUS_INVALID_PARAMETER        VMBSAVE_NTSTATUS_VALUE(0xC000000Du)
#define STATUS_MORE_PROCESSING_REQUIRED VMBSAVE_NTSTATUS_VALUE(0xC0000016u)
#define STATUS_NO_MEMORY                VMBSAVE_NTSTATUS_VALUE(0xC0000017u)
#define STATUS_BUFFER_TOO_SMALL         VMBSAVE_NTSTATUS_VALUE(0xC0000023u)
#define STATUS_DATA_ERROR               VMBSAVE_NTSTATUS_VALUE(0xC000003Eu)
#define STATUS_UNKNOWN_REVISION         VMBSAVE_NTSTATUS_VALUE(0xC0000058u)
#define STATUS_REVISION_MISMATCH        VMBSAVE_NTSTATUS_VALUE(0xC0000059u)
#define STATUS_INSUFFICIENT_RESOURCES   VMBSAVE_NTSTATUS_VALUE(0xC000009Au)
#define STATUS_NOT_SUPPORTED            VMBSAVE_NTSTATUS_VALUE(0xC00000BBu)
#define STATUS_INTERNAL_ERROR           VMBSAVE_NTSTATUS_VALUE(0xC00000E5u)
#define STATUS_INVALID_PARAMETER_1      VMBSAVE_NTSTATUS_VALUE(0xC00000EFu)
#define STATUS_INVALID_PARAMETER_2      VMBSAVE_NTSTATUS_VALUE(0xC00000F0u)
#define STATUS_INVALID_PARAMETER_3      VMBSAVE_NTSTATUS_VALUE(0xC00000F1u)
#define STATUS_INVALID_PARAMETER_4      VMBSAVE_NTSTATUS_VALUE(0xC00000F2u)
#define STATUS_FILE_CORRUPT_ERROR       VMBSAVE_NTSTATUS_VALUE(0xC0000102u)
#define STATUS_INVALID_DEVICE_STATE     VMBSAVE_NTSTATUS_VALUE(0xC0000184u)
#define STATUS_INVALID_BUFFER_SIZE      VMBSAVE_NTSTATUS_VALUE(0xC0000206u)
#define STATUS_NOT_FOUND                VMBSAVE_NTSTATUS_VALUE(0xC0000225u)
#define STATUS_DUPLICATE_OBJECTID       VMBSAVE_NTSTATUS_VALUE(0xC000022Au)
#define STATUS_REQUEST_OUT_OF_SEQUENCE  VMBSAVE_NTSTATUS_VALUE(0xC000042Au)
#define STATUS_IMPLEMENTATION_LIMIT     VMBSAVE_NTSTATUS_VALUE(0xC000042Bu)

/* The symbolic name of a status, or NULL for a value not listed above. */
static inline const char *vmbsave_status_name(NTSTATUS status)
{
    switch ((uint32_t)status) {
    case 0x00000000u: return "STATUS_SUCCESS";
    case 0x80000005u: return "STATUS_BUFFER_OVERFLOW";
    case 0xC0000001u: return "STATUS_UNSUCCESSFUL";
    case 0xC000000Du: return "STATUS_INVALID_PARAMETER";
    case 0xC0000016u: return "STATUS_MORE_PROCESSING_REQUIRED";
    case 0xC0000017u: return "STATUS_NO_MEMORY";
    case 0xC0000023u: return "STATUS_BUFFER_TOO_SMALL";
    case 0xC000003Eu: return "STATUS_DATA_ERROR";
    case 0xC0000058u: return "STATUS_UNKNOWN_REVISION";
    case 0xC0000059u: return "STATUS_REVISION_MISMATCH";
    case 0xC000009Au: return "STATUS_INSUFFICIENT_RESOURCES";
    case 0xC00000BBu: return "STATUS_NOT_SUPPORTED";
    case 0xC00000E5u: return "STATUS_INTERNAL_ERROR";
    case 0xC00000EFu: return "STATUS_INVALID_PARAMETER_1";
    case 0xC00000F0u: return "STATUS_INVALID_PARAMETER_2";
    case 0xC00000F1u: return "STATUS_INVALID_PARAMETER_3";
    case 0xC00000F2u: return "STATUS_INVALID_PARAMETER_4";
    case 0xC0000102u: return "STATUS_FILE_CORRUPT_ERROR";
    case 0xC0000184u: return "STATUS_INVALID_DEVICE_STATE";
    case 0xC0000206u: return "STATUS_INVALID_BUFFER_SIZE";
    case 0xC0000225u: return "STATUS_NOT_FOUND";
    case 0xC000022Au: return "STATUS_DUPLICATE_OBJECTID";
    case 0xC000042Au: return "STATUS_REQUEST_OUT_OF_SEQUENCE";
    case 0xC000042Bu: return "STATUS_IMPLEMENTATION_LIMIT";
    default: return (const char *)0;
    }
}

#ifdef __cplusplus
}
#endif

#endif /* VMBSAVE_NTSTATUS_H */
