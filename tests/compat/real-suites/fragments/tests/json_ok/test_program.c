#include <stdio.h>
/* Counts the opening braces and brackets of a JSON document on stdin. */
int main(void) {
    int c, objects = 0, arrays = 0;
    while ((c = getchar()) != EOF) {
        if (c == '{') objects++;
        if (c == '[') arrays++;
    }
    printf("objects=%d arrays=%d\n", objects, arrays);
    return 0;
}
