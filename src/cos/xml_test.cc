#include "cos/xml.h"

#include <gtest/gtest.h>

namespace veil::cos {
namespace {

TEST(XmlTest, ParsesTheBodiesS3Defines) {
  auto doc = ParseXml(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
      "<Object><Key>a &amp; b</Key></Object><!-- note --><Object><Key><![CDATA[<x>]]></Key>"
      "</Object><s3:Object><Key>&#x41;&#66;</Key></s3:Object></Delete>");
  ASSERT_TRUE(doc) << doc.error().ToString();
  EXPECT_EQ(doc->name, "Delete");
  ASSERT_EQ(doc->attributes.size(), 1u);
  EXPECT_EQ(doc->Child("Quiet")->text, "true");
  auto objects = doc->Children("Object");
  ASSERT_EQ(objects.size(), 3u);
  EXPECT_EQ(objects[0]->Child("Key")->text, "a & b");
  EXPECT_EQ(objects[1]->Child("Key")->text, "<x>");
  EXPECT_EQ(objects[2]->Child("Key")->text, "AB");
  EXPECT_EQ(doc->Child("Missing"), nullptr);
}

// Billion laughs and external entities need a DOCTYPE: none is accepted.
TEST(XmlTest, RefusesDoctypeEntitiesAndMalformedDocuments) {
  for (std::string bad : {
           "<!DOCTYPE lolz [<!ENTITY lol \"lol\">]><a>&lol;</a>",
           "<a>&lol;</a>",
           "<a><b></a></b>",
           "<a>",
           "<a></a><b></b>",
           "text<a/>",
           "<a x=1/>",
           "<a>&#0;</a>",
           "<a>&#xD800;</a>",
           "<a><?pi x?></a>",
           "",
       }) {
    EXPECT_FALSE(ParseXml(bad)) << bad;
  }
  std::string deep;
  for (size_t i = 0; i <= kMaxXmlDepth; ++i) deep += "<a>";
  for (size_t i = 0; i <= kMaxXmlDepth; ++i) deep += "</a>";
  EXPECT_FALSE(ParseXml(deep));
}

TEST(XmlTest, WriterEscapesText) {
  XmlWriter xml;
  xml.Open("ListBucketResult", "http://s3.amazonaws.com/doc/2006-03-01/")
      .Element("Key", "a<b>&\"c'")
      .Close();
  EXPECT_EQ(xml.Finish(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult "
            "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Key>a&lt;b&gt;&amp;&quot;c&apos;"
            "</Key></ListBucketResult>");
  auto back = ParseXml("<k>" + XmlEscape("a<b>&\"c'") + "</k>");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->text, "a<b>&\"c'");
}

}  // namespace
}  // namespace veil::cos
