#include "oracle/violation.h"

const char *vmbsave_verdict_name(vmbsave_verdict verdict)
{
    switch (verdict) {
    case VMBSAVE_VERDICT_PASS: return "PASS";
    case VMBSAVE_VERDICT_VIOLATION: return "VIOLATION";
    case VMBSAVE_VERDICT_ERROR: return "ERROR";
    }
    return "?";
}

const char *vmbsave_check_kind_name(vmbsave_check_kind kind)
{
    switch (kind) {
    case VMBSAVE_CHECK_STATUS: return "STATUS";
    case VMBSAVE_CHECK_COUNTS: return "COUNTS";
    case VMBSAVE_CHECK_GUARD: return "GUARD";
    case VMBSAVE_CHECK_CHUNKS: return "CHUNKS";
    case VMBSAVE_CHECK_IMAGE: return "IMAGE";
    case VMBSAVE_CHECK_DESCRIBE: return "DESCRIBE";
    case VMBSAVE_CHECK_LEAK: return "LEAK";
    case VMBSAVE_CHECK_CALLBACK: return "CALLBACK";
    case VMBSAVE_CHECK_KIND_COUNT: break;
    }
    return "?";
}
