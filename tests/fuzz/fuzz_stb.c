/* fuzz_stb.c — stb_image and stb_image_resize compiled into the fuzz harnesses from the headers
 * of the libstb the project links (Debian's libstb-dev: the same source as libstb.so). The
 * harness's definitions take precedence over the shared library's, so the models' calls (the BMP
 * decoder in models/imagefile.c, the resize in models/data.c) reach
 * code built with the fuzzer's coverage and ASan/UBSan: a decoder's out-of-bounds write inside an
 * uninstrumented libstb.so would go unseen. Asserts stay on, as in Debian's library. */
#undef NDEBUG
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb_image.h>
#include <stb_image_resize.h>
