# The loyalty plugin writes its workbook with libxlsxwriter.
loyalty_LIBS := -lxlsxwriter
