/*
 * connect_page: the connect callbacks' own pages. See connect_page.h.
 *
 * The text is fixed: nothing from the request goes into a page, so there
 * is nothing to escape but the configured settings page URL.
 */
#include "connect_page.h"

#include <string.h>

#include "core/buffer.h"

#define SETTINGS_PAGE "/haravan/"

typedef struct page_text {
    int status;
    const char *headers;
    const char *title;
    const char *vietnamese;
    const char *english;
} page_text;

static const page_text method_page = {
    405,
    "Allow: POST\r\n",
    "Không thể hoàn tất kết nối · The connection cannot be completed",
    "Haravan gửi kết quả đăng nhập về địa chỉ này bằng một biểu mẫu (POST). Địa chỉ này vừa "
    "được mở trực tiếp, nên không có gì trong đó được dùng hay lưu lại. Hãy quay lại trang cài "
    "đặt và bấm <b>Kết nối</b> lại.",
    "Haravan sends the sign-in result to this address as a form post. It was opened directly "
    "instead, so nothing in it was used or kept. Go back to the settings page and press "
    "<b>Kết nối</b> again.",
};

static const page_text other_browser_page = {
    403,
    "",
    "Hãy bắt đầu lại từ trang cài đặt · Start again from the settings page",
    "Lần kết nối này không được bắt đầu trong trình duyệt này, hoặc đã quá lâu. Để bảo vệ cửa "
    "hàng, kết nối chỉ hoàn tất được trong chính trình duyệt đã bấm <b>Kết nối</b>. Không có gì "
    "được lưu lại. Hãy mở trang cài đặt và bấm <b>Kết nối</b> lại.",
    "This connection was not started in this browser, or too long ago. To protect the shop, a "
    "connection can only be completed in the browser that pressed <b>Kết nối</b>. Nothing was "
    "saved. Open the settings page and press <b>Kết nối</b> again.",
};

/* Appends `text` with the characters that matter in an attribute escaped. */
static int append_escaped(buffer *out, const char *text)
{
    for (const char *c = text; *c != '\0'; c++) {
        int result = *c == '&'    ? buffer_append_string(out, "&amp;")
                     : *c == '"'  ? buffer_append_string(out, "&quot;")
                     : *c == '<'  ? buffer_append_string(out, "&lt;")
                     : *c == '>'  ? buffer_append_string(out, "&gt;")
                     : *c == '\'' ? buffer_append_string(out, "&#39;")
                                  : buffer_append_char(out, *c);
        if (result != 0)
            return -1;
    }
    return 0;
}

static int build_page(const worker *w, const page_text *text, buffer *out)
{
    const char *public_url =
        w->configuration->public_url != NULL ? w->configuration->public_url : "";
    return buffer_printf(out,
                         "<!doctype html>\n<html lang=\"vi\">\n<head>\n<meta charset=\"utf-8\">\n"
                         "<meta name=\"viewport\" content=\"width=device-width, "
                         "initial-scale=1\">\n<title>%s</title>\n</head>\n<body>\n<h1>%s</h1>\n"
                         "<p>%s</p>\n<p lang=\"en\">%s</p>\n<p><a href=\"",
                         text->title, text->title, text->vietnamese, text->english) == 0 &&
                   append_escaped(out, public_url) == 0 &&
                   buffer_append_string(out, SETTINGS_PAGE
                                        "\">Về trang cài đặt · Back to the "
                                        "settings page</a></p>\n</body>\n</html>\n") == 0
               ? 0
               : -1;
}

void connect_page_reply(const worker *w, request *r, connect_page_kind kind)
{
    const page_text *text = kind == CONNECT_PAGE_METHOD ? &method_page : &other_browser_page;
    buffer page = BUFFER_INIT;
    buffer headers = BUFFER_INIT;
    if (build_page(w, text, &page) != 0 ||
        buffer_printf(&headers,
                      "%sReferrer-Policy: no-referrer\r\n"
                      "Content-Security-Policy: default-src 'none'\r\n",
                      text->headers) != 0) {
        request_reply_error(r, 500, "out of memory");
    } else {
        request_reply(r, text->status, "text/html; charset=utf-8", headers.data, page.data,
                      page.length);
    }
    buffer_free(&headers);
    buffer_free(&page);
}
