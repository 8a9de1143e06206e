/* Links one module's library (hubkey::json) rather than the umbrella. */
#include <stdio.h>

#include <hubkey/json.h>

int main(void)
{
    hk_json_token tokens[4];
    hk_json_doc doc;
    const char text[] = "[1,2]";
    hk_result r = hk_json_parse(&doc, text, sizeof text - 1, tokens, 4, 2);
    printf("json-only %s %zu\n", hk_result_name(r), doc.count);
    return r == HK_OK ? 0 : 1;
}
